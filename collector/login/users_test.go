package login

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The known-user check reads the host's /etc/passwd through the host root
// (an absolute symbolic link resolves inside it) and is not cut short by
// an overlong or malformed line.
func TestUserSetHostRootAndLongLines(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"etc", "usr/share/base"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\n" +
		"long:x:1:1:" + strings.Repeat("g", 70<<10) + ":/:/bin/sh\n" +
		"garbage line\n" +
		"+nisuser\n" +
		"alice:x:1000:1000::/home/alice:/bin/sh\n"
	if err := os.WriteFile(filepath.Join(root, "usr/share/base/passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/share/base/passwd", filepath.Join(root, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	u := &userSet{root: root}
	for name, want := range map[string]bool{"root": true, "alice": true, "mallory": false, "+nisuser": false, "garbage line": false} {
		if got := u.has(name); got != want {
			t.Errorf("has(%q) = %v, want %v", name, got, want)
		}
	}

	// No passwd file: the collector cannot tell, so nobody is marked unknown.
	u = &userSet{root: t.TempDir()}
	if !u.has("mallory") {
		t.Error("without /etc/passwd a user was marked unknown")
	}
}
