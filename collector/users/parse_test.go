package users

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

func TestParsePasswd(t *testing.T) {
	in := "root:x:0:0:root:/root:/bin/bash\n" +
		"# comment\n" +
		"\n" +
		"+::::::\n" +
		"+john::::::\n" +
		"-@bad::::::\n" +
		"old:$1$abc$def:1:2:Old User:/home/old:\n" +
		"open::3:4:::/bin/sh\r\n" +
		"lock:*:5:6:::/bin/sh\n" +
		"lock2:!x:7:8:::\n" +
		"max:x:4294967295:4294967295:::\n" +
		"bad:x:4294967296:0:::\n" +
		"des:abcdefghij./0:10:10:::\n" +
		"last:x:9:9:::/bin/sh"
	got, err := ParsePasswd(strings.NewReader(in))
	require.Equal(t, []Account{
		{Name: "root", Password: PasswordShadowed, UID: 0, GID: 0, Gecos: "root", Home: "/root", Shell: "/bin/bash"},
		{Name: "old", Password: PasswordSet, UID: 1, GID: 2, Gecos: "Old User", Home: "/home/old"},
		{Name: "open", Password: PasswordEmpty, UID: 3, GID: 4, Shell: "/bin/sh"},
		{Name: "lock", Password: PasswordLocked, UID: 5, GID: 6, Shell: "/bin/sh"},
		{Name: "lock2", Password: PasswordLocked, UID: 7, GID: 8},
		{Name: "max", Password: PasswordShadowed, UID: 4294967295, GID: 4294967295},
		{Name: "des", Password: PasswordSet, UID: 10, GID: 10},
		{Name: "last", Password: PasswordShadowed, UID: 9, GID: 9, Shell: "/bin/sh"},
	}, got)
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, &ParseError{File: "passwd", Malformed: 1, FirstLine: 12, FirstReason: "invalid uid"}, pe)
}

func TestParsePasswdClean(t *testing.T) {
	got, err := ParsePasswd(strings.NewReader(""))
	require.NoError(t, err)
	require.Empty(t, got)
	got, err = ParsePasswd(strings.NewReader("a:x:1:1:::\n"))
	require.NoError(t, err)
	require.Len(t, got, 1)
}

func TestParseGroup(t *testing.T) {
	in := "root:x:0:\n" +
		"wheel:x:10:root, alice ,,bob\n" +
		"+:::\n" +
		"# c\n" +
		"empty:x:11\n" +
		"nopass::12:carol\r\n"
	got, err := ParseGroup(strings.NewReader(in))
	require.Equal(t, []Group{
		{Name: "root", GID: 0},
		{Name: "wheel", GID: 10, Members: []string{"root", "alice", "bob"}},
		{Name: "nopass", GID: 12, Members: []string{"carol"}},
	}, got)
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, &ParseError{File: "group", Malformed: 1, FirstLine: 5, FirstReason: "want 4 fields"}, pe)
}

func TestParseShadow(t *testing.T) {
	in := "root:$6$salt$hash:19700:0:99999:7:::\n" +
		"daemon:*:19700:0:99999:7:::\n" +
		"locked:!$6$salt$hash:19701::::::\n" +
		"nopw::0:::::20000:\n" +
		"short:!!\n" +
		"bad:x:notanumber:::::-3:\n" +
		"toolong:a:b:c:d:e:f:g:h:i\n" +
		"+nis::::::::\n"
	got, err := ParseShadow(strings.NewReader(in))
	require.Equal(t, []ShadowEntry{
		{Name: "root", Password: PasswordSet, LastChange: 19700, Expire: -1},
		{Name: "daemon", Password: PasswordLocked, LastChange: 19700, Expire: -1},
		{Name: "locked", Password: PasswordLocked, LastChange: 19701, Expire: -1},
		{Name: "nopw", Password: PasswordEmpty, LastChange: 0, Expire: 20000},
		{Name: "short", Password: PasswordLocked, LastChange: -1, Expire: -1},
		{Name: "bad", Password: PasswordLocked, LastChange: -1, Expire: -1},
	}, got)
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, &ParseError{File: "shadow", Malformed: 1, FirstLine: 7, FirstReason: "want 2 to 9 fields"}, pe)
	// The parser keeps no trace of the hashes.
	require.NotContains(t, fmt.Sprintf("%+v %v", got, err), "hash")
}

func TestParseReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("a:x:1:1:::\nb:x:"), iotest.ErrReader(boom))
	got, err := ParsePasswd(r)
	require.ErrorIs(t, err, boom)
	require.Equal(t, []Account{{Name: "a", Password: PasswordShadowed, UID: 1, GID: 1}}, got)

	// Read error and malformed lines are both reported.
	r = io.MultiReader(strings.NewReader("bad\na:x:1:1:::\n"), iotest.ErrReader(boom))
	_, err = ParseGroup(r)
	require.ErrorIs(t, err, boom)
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 2, pe.Malformed)
}

// hugeReader produces n copies of line without holding them in memory.
type hugeReader struct {
	line []byte
	left int
	off  int
}

func (h *hugeReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && h.left > 0 {
		c := copy(p[n:], h.line[h.off:])
		n += c
		h.off += c
		if h.off == len(h.line) {
			h.off = 0
			h.left--
		}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func TestLargeInputStaysBounded(t *testing.T) {
	// 20 MB of valid accounts: only MaxEntries are kept, the rest counted.
	line := []byte("someuser:x:1000:1000:Some User,,,:/home/someuser:/bin/bash\n")
	n := 20_000_000 / len(line)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got, err := ParsePasswd(&hugeReader{line: line, left: n})
	runtime.ReadMemStats(&after)
	require.Len(t, got, MaxEntries)
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, n-MaxEntries, pe.Excess)
	require.Contains(t, err.Error(), fmt.Sprintf("%d entries beyond the limits of %d entries and 4 MiB dropped", n-MaxEntries, MaxEntries))
	t.Logf("20 MB passwd: %d accounts kept, %d dropped, %d MB allocated in total",
		len(got), pe.Excess, (after.TotalAlloc-before.TotalAlloc)>>20)

	// One 20 MB line: skipped, never buffered whole.
	big := &hugeReader{line: []byte("x"), left: 20_000_000}
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := io.MultiReader(strings.NewReader("a:x:1:1:::\n"), big, strings.NewReader("\nb:x:2:2:::\n"))
	got, err = ParsePasswd(r)
	runtime.ReadMemStats(&after)
	require.Equal(t, []string{"a", "b"}, accountNames(got))
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 1, pe.TooLong)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "a long line must not be buffered")

	// A group with an enormous member list stays bounded too.
	members := strings.Repeat("u,", 40000)
	groups, err := ParseGroup(strings.NewReader("g:x:1:" + members[:len(members)-1] + "\n"))
	require.Error(t, err) // 80 KB line: too long
	require.Empty(t, groups)
	members = strings.Repeat("u,", 32000)
	groups, err = ParseGroup(strings.NewReader("g:x:1:" + members + "v\n"))
	require.NoError(t, err)
	require.Equal(t, 32001, len(groups[0].Members))
}

func accountNames(as []Account) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Name)
	}
	return out
}

func addFileSeeds(f *testing.F, names ...string) {
	f.Helper()
	for _, root := range []string{"hostroot-debian", "hostroot-alpine", "hostroot-broken"} {
		for _, n := range names {
			b, err := os.ReadFile(filepath.Join("testdata", root, "etc", n))
			if err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(""))
	f.Add([]byte("\n\n\r\n"))
	f.Add([]byte("a:b:c:d:e:f:g:h:i:j"))
	f.Add([]byte("+\n-\n#\n"))
}

// checkBounded verifies the invariants shared by all parsers.
func checkBounded(t *testing.T, n int, err error) {
	t.Helper()
	if n > MaxEntries {
		t.Fatalf("%d entries, more than MaxEntries", n)
	}
	if err != nil && err.Error() == "" {
		t.Fatal("empty error message")
	}
}

func FuzzParsePasswd(f *testing.F) {
	addFileSeeds(f, "passwd")
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParsePasswd(bytes.NewReader(data))
		checkBounded(t, len(got), err)
		for _, a := range got {
			if !validName([]byte(a.Name)) || strings.Contains(a.Name+a.Gecos+a.Home+a.Shell, ":") {
				t.Fatalf("bad account %+v", a)
			}
			switch a.Password {
			case PasswordShadowed, PasswordEmpty, PasswordLocked, PasswordSet:
			default:
				t.Fatalf("bad password state %q", a.Password)
			}
		}
		// The collector's pure half must not choke on anything either.
		items := Items(got, nil, nil, false)
		if len(items) != len(got) {
			t.Fatalf("%d items for %d accounts", len(items), len(got))
		}
		for _, it := range items {
			_ = it.AppendJSON(nil)
		}
	})
}

func FuzzParseGroup(f *testing.F) {
	addFileSeeds(f, "group")
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseGroup(bytes.NewReader(data))
		checkBounded(t, len(got), err)
		for _, g := range got {
			if !validName([]byte(g.Name)) || len(g.Members) > maxMembers {
				t.Fatalf("bad group %+v", g)
			}
			for _, m := range g.Members {
				if m == "" || strings.ContainsAny(m, ",:") {
					t.Fatalf("bad member %q", m)
				}
			}
		}
		accounts := []Account{{Name: "root"}, {Name: "x", GID: 1}}
		for _, g := range got {
			for _, m := range g.Members {
				accounts = append(accounts, Account{Name: m, GID: g.GID})
			}
			if len(accounts) > 1000 {
				break
			}
		}
		_ = Items(accounts, got, nil, true)
	})
}

func FuzzParseShadow(f *testing.F) {
	addFileSeeds(f, "shadow")
	f.Add([]byte("root:$6$salt$hash:19700:0:99999:7:::\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseShadow(bytes.NewReader(data))
		checkBounded(t, len(got), err)
		for _, s := range got {
			if !validName([]byte(s.Name)) || s.LastChange < -1 || s.Expire < -1 {
				t.Fatalf("bad entry %+v", s)
			}
			switch s.Password {
			case PasswordEmpty, PasswordLocked, PasswordSet:
			default:
				t.Fatalf("bad password state %q", s.Password)
			}
			if s.LastChange > 0 {
				_ = formatDays(s.LastChange)
			}
		}
	})
}
