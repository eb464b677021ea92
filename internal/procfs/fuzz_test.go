package procfs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

func addFiles(f *testing.F, pattern string) {
	files, _ := filepath.Glob(pattern)
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	addFiles(f, "testdata/hostroot/proc/*/stat")
	f.Add([]byte("1 ((((()))) S 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStat(b)
		if err == nil && !utf8.ValidString(s.Comm) {
			t.Fatalf("invalid UTF-8 comm %q", s.Comm)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	addFiles(f, "testdata/hostroot/proc/*/status")
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStatus(b)
		if err == nil && !utf8.ValidString(s.Name) {
			t.Fatalf("invalid UTF-8 name %q", s.Name)
		}
	})
}

func FuzzParseCmdline(f *testing.F) {
	files, _ := filepath.Glob("testdata/hostroot/proc/*/cmdline")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, 0)
			f.Add(b, 7)
		}
	}
	f.Add([]byte("a\x00\xff\xfe\x00\n"), 3)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		max %= 1 << 16
		s, trunc := ParseCmdline(b, max)
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 %q", s)
		}
		if max > 0 && len(s) > max {
			t.Fatalf("len %d > max %d", len(s), max)
		}
		if bytes.IndexByte([]byte(s), 0) >= 0 {
			t.Fatalf("NUL kept in %q", s)
		}
		if !trunc && max > 0 && len(bytes.TrimRight(b, "\x00")) > max {
			t.Fatalf("not marked truncated")
		}
	})
}

func FuzzContainerID(f *testing.F) {
	addFiles(f, "testdata/cgroup/*.cgroup")
	f.Fuzz(func(t *testing.T, b []byte) {
		id, ok := ContainerID(b)
		if ok != (id != "") || (ok && !isContainerHex(id)) {
			t.Fatalf("bad id %q ok=%v", id, ok)
		}
	})
}

func FuzzParsePasswd(f *testing.F) {
	addFiles(f, "testdata/hostroot/etc/passwd")
	f.Fuzz(func(t *testing.T, b []byte) {
		names, err := ParsePasswd(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if !utf8.ValidString(n) || n == "" {
				t.Fatalf("bad name %q", n)
			}
		}
	})
}

func FuzzParseBootTime(f *testing.F) {
	addFiles(f, "testdata/hostroot/proc/stat")
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = ParseBootTime(b) })
}
