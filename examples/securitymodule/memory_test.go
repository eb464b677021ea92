package main

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"32MiB": 32 << 20, "1GiB": 1 << 30, "512KiB": 512 << 10, "100B": 100, "4096": 4096, "off": 0, "0": 0, " 8MiB ": 8 << 20} {
		got, err := parseBytes(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "lots", "-1MiB", "12MB", "1.5MiB", "99999999999GiB"} {
		_, err := parseBytes(bad)
		require.Error(t, err, bad)
	}
}

func rssFileKB(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// TestPageOutExecutable: advising the executable's read-only mappings
// covers the test binary's code and lowers its resident file pages.
func TestPageOutExecutable(t *testing.T) {
	before := rssFileKB(t)
	n, err := pageOutExecutable()
	if err != nil && n == 0 {
		t.Skipf("MADV_PAGEOUT not available here: %v", err)
	}
	require.Positive(t, n)
	after := rssFileKB(t)
	t.Logf("RssFile %d kB -> %d kB (%d bytes advised)", before, after, n)
	require.Less(t, after, before)
}
