package transporttest_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDocSnippets checks that every Go block of docs/writing-a-transport.md
// is real, compiled code: the Transport interface of package transport, or
// a part of example_writing_test.go, verbatim.
func TestDocSnippets(t *testing.T) {
	doc, err := os.ReadFile("../../docs/writing-a-transport.md")
	if err != nil {
		t.Fatal(err)
	}
	var code strings.Builder
	for _, f := range []string{"example_writing_test.go", "../transport.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		code.Write(b)
	}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 4 {
		t.Fatalf("found %d Go blocks", len(blocks))
	}
	for _, b := range blocks {
		if !strings.Contains(code.String(), strings.TrimSuffix(b[1], "\n")) {
			t.Errorf("this block of docs/writing-a-transport.md is not in example_writing_test.go (or transport.go):\n%s", b[1])
		}
	}
}
