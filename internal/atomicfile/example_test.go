package atomicfile_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgesec/edgesec/internal/atomicfile"
)

func Example() {
	dir, err := os.MkdirTemp("", "atomicfile")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "agentid")
	if err := atomicfile.WriteFile(p, []byte("3f1c…\n"), 0o600); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(p)
	fmt.Print(string(b))
	// Output: 3f1c…
}
