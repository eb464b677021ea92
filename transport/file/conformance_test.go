package file_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/file"
	"github.com/edgesec/edgesec/transport/transporttest"
)

// The file transport passes the transport conformance suite. Its peer, a
// local file, cannot hang, and it declares no maximum size.
func TestConformance(t *testing.T) {
	var path string
	transporttest.Run(t, transporttest.Config{
		New: func(t *testing.T) transport.Transport {
			path = filepath.Join(t.TempDir(), "messages.jsonl")
			tr, err := file.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			return tr
		},
		Delivered: func(t *testing.T) [][]byte {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
		},
	})
}
