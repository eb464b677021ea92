package hardware

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// entry is one line of a sysfs manifest (testdata/*.sysfs).
type entry struct {
	kind   byte // 'F' file, 'L' symbolic link, 'D' empty directory
	path   string
	target string // link target or file content
}

func loadManifest(t testing.TB, name string) []entry {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []entry
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		kind, rest, _ := strings.Cut(line, " ")
		p, arg, _ := strings.Cut(rest, " ")
		e := entry{kind: kind[0], path: p, target: arg}
		switch kind {
		case "F":
			s, err := strconv.Unquote(arg)
			if err != nil {
				t.Fatalf("%s:%d: %v", name, n, err)
			}
			e.target = s
		case "L", "D":
		default:
			t.Fatalf("%s:%d: unknown kind %q", name, n, kind)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// buildHostRoot materializes a manifest as <root>/sys in a temporary
// directory and returns root.
func buildHostRoot(t testing.TB, entries []entry) string {
	t.Helper()
	root := t.TempDir()
	for _, e := range entries {
		p := filepath.Join(root, "sys", filepath.FromSlash(e.path))
		dir := p
		if e.kind != 'D' {
			dir = filepath.Dir(p)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch e.kind {
		case 'F':
			err = os.WriteFile(p, []byte(e.target), 0o644)
		case 'L':
			err = os.Symlink(e.target, p)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// mapFS turns a manifest into an in-memory sysfs.
func mapFS(entries []entry) fstest.MapFS {
	m := fstest.MapFS{}
	for _, e := range entries {
		switch e.kind {
		case 'F':
			m[e.path] = &fstest.MapFile{Data: []byte(e.target), Mode: 0o444}
		case 'L':
			m[e.path] = &fstest.MapFile{Data: []byte(e.target), Mode: os.ModeSymlink | 0o777}
		case 'D':
			m[e.path] = &fstest.MapFile{Mode: os.ModeDir | 0o755}
		}
	}
	return m
}

// gatewayRoot builds the gateway fixture and returns its host root.
func gatewayRoot(t testing.TB) string {
	t.Helper()
	return buildHostRoot(t, loadManifest(t, "testdata/gateway.sysfs"))
}
