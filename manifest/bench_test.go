package manifest_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgesec/edgesec/manifest"
)

func corpus(b *testing.B) [][]byte {
	files, _ := filepath.Glob("testdata/corpus/*.json")
	var docs [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, data)
	}
	return docs
}

// BenchmarkCorpus loads and analyses every manifest of the corpus; the
// JSONUnmarshal sub-benchmark is what a user would otherwise pay just to
// decode the same files with encoding/json, for scale.
func BenchmarkCorpus(b *testing.B) {
	docs := corpus(b)
	b.Run("LoadAnalyze", func(b *testing.B) {
		for b.Loop() {
			for _, d := range docs {
				if dep, err := manifest.Load(d, "bench", manifest.LoadOptions{}); err == nil {
					_ = manifest.Analyze(dep, manifest.Config{})
				}
			}
		}
		b.ReportMetric(float64(len(docs)*b.N)/b.Elapsed().Seconds(), "manifests/s")
		b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/corpus")
	})
	b.Run("JSONUnmarshal", func(b *testing.B) {
		for b.Loop() {
			for _, d := range docs {
				var v any
				_ = json.Unmarshal(d, &v)
			}
		}
		b.ReportMetric(float64(len(docs)*b.N)/b.Elapsed().Seconds(), "manifests/s")
		b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/corpus")
	})
}
