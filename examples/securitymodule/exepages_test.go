package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const mapsFixture = `00400000-0098e000 r-xp 00000000 fe:00 10379977                           /usr/local/bin/security module
0098e000-00f1e000 r--p 0058e000 fe:00 10379977                           /usr/local/bin/security module
00f1e000-00fa1000 rw-p 00b1e000 fe:00 10379977                           /usr/local/bin/security module
00fa1000-02fe5000 rw-p 00000000 00:00 0
7f53786a0000-7f5378900000 rw-p 00000000 00:00 0
7f53bf204000-7f53bf214000 r--s 00000000 fe:00 10225978                   /var/lib/edgesec/spool.db
7f53bf216000-7f53bf217000 r--p 00000000 fe:00 10225978                   /usr/local/bin/security module-other
7f53bf218000-7f53bf219000 r--s 00000000 fe:00 10379977                   /usr/local/bin/security module
zzzz-00400000 r--p 00000000 fe:00 10379977 /usr/local/bin/security module
00500000-00400000 r--p 00000000 fe:00 10379977 /usr/local/bin/security module
00500000-00600000 r--p 0000zz00 fe:00 10379977 /usr/local/bin/security module
7fff59715000-7fff59736000 rw-p 00000000 00:00 0                          [stack]
`

func TestParseExeMappings(t *testing.T) {
	got := parseExeMappings([]byte(mapsFixture), "/usr/local/bin/security module")
	require.Equal(t, []exeMapping{
		{start: 0x400000, end: 0x98e000, offset: 0, exec: true},
		{start: 0x98e000, end: 0xf1e000, offset: 0x58e000},
		{start: 0xf1e000, end: 0xfa1000, offset: 0xb1e000, writable: true},
	}, got)
	// A replaced executable keeps its mappings under the old name.
	deleted := strings.ReplaceAll(mapsFixture, "security module\n", "security module (deleted)\n")
	require.Len(t, parseExeMappings([]byte(deleted), "/usr/local/bin/security module (deleted)"), 3)
	require.Empty(t, parseExeMappings([]byte(mapsFixture), "/usr/local/bin/other"))
}

// TestParseExeSmaps: in smaps, the anonymous pages of a read-only mapping
// (a breakpoint, a uprobe) mark it modified; a writable mapping's are its
// writes; the other field lines are skipped.
func TestParseExeSmaps(t *testing.T) {
	b, err := os.ReadFile("testdata/smaps-exe")
	require.NoError(t, err)
	got := parseExeMappings(b, "/usr/local/bin/securitymodule")
	require.Equal(t, []exeMapping{
		{start: 0x400000, end: 0x98f000, offset: 0, exec: true, modified: true},
		{start: 0x98f000, end: 0xf1f000, offset: 0x58f000},
		{start: 0xf1f000, end: 0xfa2000, offset: 0xb1f000, writable: true},
	}, got)
}

func FuzzParseExeMappings(f *testing.F) {
	f.Add([]byte(mapsFixture), "/usr/local/bin/security module")
	if b, err := os.ReadFile("testdata/smaps-exe"); err == nil {
		f.Add(b, "/usr/local/bin/securitymodule")
	}
	f.Add([]byte("0-1 r--p 0 0:0 0 x\n"), "x")
	f.Fuzz(func(t *testing.T, maps []byte, path string) {
		for _, m := range parseExeMappings(maps, path) {
			if m.end <= m.start {
				t.Fatalf("empty or inverted mapping %+v", m)
			}
		}
	})
}

// mappingFlags returns, for this process's mappings of path, the resident
// kB and the VmFlags of each, keyed by the mapping's permissions.
func mappingFlags(t *testing.T, path string) (rss map[string]int64, flags map[string]string) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	require.NoError(t, err)
	rss, flags = map[string]int64{}, map[string]string{}
	var cur string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := sc.Text()
		f := strings.Fields(l)
		switch {
		case len(f) >= 6 && strings.Contains(f[0], "-") && strings.HasSuffix(l, " "+path):
			cur = f[1]
		case len(f) >= 5 && strings.Contains(f[0], "-"):
			cur = ""
		case cur != "" && f[0] == "Rss:":
			n, err := strconv.ParseInt(f[1], 10, 64)
			require.NoError(t, err)
			rss[cur] += n
		case cur != "" && f[0] == "VmFlags:":
			flags[cur] = strings.Join(f[1:], " ")
		}
	}
	return rss, flags
}
