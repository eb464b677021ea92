package detect_test

import (
	"testing"

	"github.com/edgesec/edgesec/detect"
	"github.com/edgesec/edgesec/detect/analyzertest"
)

// TestBuiltinConformance runs the analyzertest checks on every built-in
// analyzer.
func TestBuiltinConformance(t *testing.T) {
	for i := range detect.Builtin(detect.BuiltinOptions{}, 0) {
		t.Run(detect.Builtin(detect.BuiltinOptions{}, 0)[i].Rules()[0].ID, func(t *testing.T) {
			analyzertest.Run(t, func() detect.Analyzer { return detect.Builtin(detect.BuiltinOptions{}, 1000)[i] }, analyzertest.Options{})
		})
	}
}
