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

// Log files are found through the host's symbolic links resolved inside
// the host root: an absolute /var/log link (Yocto-style volatile logs)
// must not lead to the module's own /var/log.
func TestLogDirAbsoluteSymlinkInsideRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("testdata/hostroot")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "var/volatile/log"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, "var/log")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/var/volatile/log", filepath.Join(root, "var/log")); err != nil {
		t.Fatal(err)
	}
	copyFile(t, "testdata/auth.log", filepath.Join(root, "var/volatile/log/auth.log"))
	r := newTestRun(t, Options{HostRoot: root, FromStart: true})
	if got := pollOnce(t, r); len(got) == 0 {
		t.Fatal("no events from var/log/auth.log behind an absolute symbolic link")
	}
}
