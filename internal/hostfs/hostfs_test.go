package hostfs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func tree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"etc", "usr/share/zoneinfo", "usr/lib"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, p string) {
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	write("usr/share/zoneinfo/UTC", "inside")
	link("/usr/share/zoneinfo/UTC", "etc/localtime")           // absolute: inside the root
	link("../../../../../../usr/share/zoneinfo/UTC", "etc/up") // ".." stops at the root
	link("/usr/lib", "lib")                                    // a directory link mid-path
	link("loop2", "etc/loop1")
	link("loop1", "etc/loop2")
	return root
}

func TestResolveStaysInsideRoot(t *testing.T) {
	root := tree(t)
	want := filepath.Join(root, "usr/share/zoneinfo/UTC")
	for _, name := range []string{"etc/localtime", "/etc/localtime", "etc/up", "etc/../etc/./localtime", "../../etc/localtime"} {
		got, err := Resolve(root, name, true)
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	if got, _ := Resolve(root, "lib/os-release", true); got != filepath.Join(root, "usr/lib/os-release") {
		t.Errorf("directory link: %q", got)
	}
	// A missing component is left to the caller.
	if got, err := Resolve(root, "etc/missing/x", true); err != nil || got != filepath.Join(root, "etc/missing/x") {
		t.Errorf("missing: %q, %v", got, err)
	}
}

func TestResolveFinalNotFollowed(t *testing.T) {
	root := tree(t)
	got, err := Resolve(root, "etc/localtime", false)
	if err != nil || got != filepath.Join(root, "etc/localtime") {
		t.Fatalf("got %q, %v; want the link itself", got, err)
	}
	// Links before the last component are still followed.
	got, err = Resolve(root, "lib/x", false)
	if err != nil || got != filepath.Join(root, "usr/lib/x") {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestResolveLoop(t *testing.T) {
	root := tree(t)
	_, err := Resolve(root, "etc/loop1", true)
	if !errors.Is(err, syscall.ELOOP) {
		t.Fatalf("loop: %v, want ELOOP", err)
	}
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Path != "etc/loop1" {
		t.Fatalf("loop: %#v, want a PathError naming etc/loop1", err)
	}
	if _, err := Resolve(root, "etc/loop1", false); err != nil {
		t.Fatalf("final link not followed, yet: %v", err)
	}
}

func TestResolveHostRoot(t *testing.T) {
	for _, root := range []string{"/", ""} {
		got, err := Resolve(root, "etc/os-release", true)
		if err != nil || got != "/etc/os-release" {
			t.Errorf("root %q: %q, %v", root, got, err)
		}
	}
}

func TestOpen(t *testing.T) {
	root := tree(t)
	f, err := Open(root, "/etc/localtime")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	if string(b) != "inside" {
		t.Fatalf("read %q: opened a file outside the root?", b)
	}
	if _, err := Open(root, "etc/loop1"); !errors.Is(err, syscall.ELOOP) {
		t.Fatalf("loop: %v", err)
	}
	if _, err := Open(root, "etc/none"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
}
