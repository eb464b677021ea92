package hostfs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgesec/edgesec/internal/hostfs"
)

// Inside a container with the host mounted at /host, an absolute link of
// the host resolves inside /host.
func ExampleResolve() {
	root, _ := os.MkdirTemp("", "host")
	defer os.RemoveAll(root)
	_ = os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	_ = os.MkdirAll(filepath.Join(root, "usr/share/zoneinfo"), 0o755)
	_ = os.Symlink("/usr/share/zoneinfo/UTC", filepath.Join(root, "etc/localtime"))

	p, err := hostfs.Resolve(root, "/etc/localtime", true)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.TrimPrefix(p, root))
	// Output: /usr/share/zoneinfo/UTC
}
