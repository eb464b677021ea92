package kernel

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/twinconfig"
)

func TestParseWatchedPathsValue(t *testing.T) {
	defs := DefaultWatchedPaths
	for _, empty := range []string{"", `[]`, `["defaults"]`, `null`} {
		got, err := ParseWatchedPaths(empty, defs)
		require.NoError(t, err, empty)
		require.Equal(t, defs, got, empty)
	}

	// Added to the defaults, ops as a string or an array.
	got, err := ParseWatchedPaths(`["defaults", {"prefix": "/opt/app/secrets/", "ops": "read|write"},
		{"prefix": "/opt/app/bin/", "ops": ["write", "delete", "link"]}]`, defs)
	require.NoError(t, err)
	require.Equal(t, append(slices.Clone(defs),
		WatchedPath{"/opt/app/secrets/", OpRead | OpWrite},
		WatchedPath{"/opt/app/bin/", OpWrite | OpDelete | OpLink}), got)

	// Replacing them; a prefix given twice is merged in its first place.
	got, err = ParseWatchedPaths(`[{"prefix": "/srv/", "ops": "read"}, {"prefix": "/etc/", "ops": "write"},
		{"prefix": "/srv/", "ops": ["truncate"]}]`, defs)
	require.NoError(t, err)
	require.Equal(t, []WatchedPath{{"/srv/", OpRead | OpTruncate}, {"/etc/", OpWrite}}, got)

	// A default prefix given again adds operations to it.
	got, err = ParseWatchedPaths(`[{"prefix": "/etc/", "ops": "read"}, "defaults", "defaults"]`, defs)
	require.NoError(t, err)
	require.Len(t, got, len(defs))
	require.Equal(t, WatchedPath{"/etc/", OpRead | OpWrite | OpDelete | OpTruncate | OpLink}, got[0])

	// "defaults" is what the caller says it is.
	mine := []WatchedPath{{"/data/", OpDelete}}
	got, err = ParseWatchedPaths(`["defaults"]`, mine)
	require.NoError(t, err)
	require.Equal(t, mine, got)

	many := func(n int, withDefaults bool) string {
		var b strings.Builder
		b.WriteString("[")
		if withDefaults {
			b.WriteString(`"defaults",`)
		}
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`{"prefix": "/p` + strconv.Itoa(i) + `/", "ops": "read"}`)
		}
		b.WriteString("]")
		return b.String()
	}
	_, err = ParseWatchedPaths(many(MaxWatchedPaths, false), defs)
	require.NoError(t, err)
	_, err = ParseWatchedPaths(many(MaxWatchedPaths-len(defs), true), defs)
	require.NoError(t, err)

	for bad, want := range map[string]string{
		many(MaxWatchedPaths+1, false):                                                  "33 prefixes, at most 32",
		many(MaxWatchedPaths-len(defs)+1, true):                                         "33 prefixes with the 17 of \"defaults\", at most 32",
		`[{"prefix": "opt/", "ops": "read"}]`:                                           "absolute path",
		`[{"prefix": "/` + strings.Repeat("x", MaxWatchedPrefix) + `", "ops": "read"}]`: "at most 64 bytes",
		`[{"prefix": "/a\u0000b", "ops": "read"}]`:                                      "absolute path",
		`[{"prefix": "/opt/", "ops": "read|execute"}]`:                                  `unknown operation "execute"`,
		`[{"prefix": "/opt/", "ops": ["read", "exec"]}]`:                                `unknown operation "exec"`,
		`[{"prefix": "/opt/", "ops": 1}]`:                                               `"ops"`,
		`["all"]`:                                                                       `"all"`,
		`{"prefix": "/opt/"}`:                                                           "not a JSON array",
	} {
		_, err := ParseWatchedPaths(bad, defs)
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), want, bad)
	}
}

func TestFormatWatchedPaths(t *testing.T) {
	assert.Equal(t, `["defaults"]`, FormatWatchedPaths(DefaultWatchedPaths, DefaultWatchedPaths))
	list := []WatchedPath{{"/srv/", OpRead | OpTruncate}, {"/etc/\"x\"", OpWrite}}
	s := FormatWatchedPaths(list, DefaultWatchedPaths)
	assert.Equal(t, `[{"prefix":"/srv/","ops":"read|truncate"},{"prefix":"/etc/\"x\"","ops":"write"}]`, s)
	back, err := ParseWatchedPaths(s, DefaultWatchedPaths)
	require.NoError(t, err)
	assert.Equal(t, list, back)
}

// The documentation of the configuration key states this package's
// limits.
func TestWatchedPathsKeyDocumentsTheLimits(t *testing.T) {
	ref := twinconfig.Builtin().Reference()
	assert.Contains(t, ref, "at most "+strconv.Itoa(MaxWatchedPrefix)+" bytes")
	assert.Contains(t, ref, "at most "+strconv.Itoa(MaxWatchedPaths)+" prefixes")
	for _, n := range opNames {
		assert.Contains(t, ref, "`"+n+"`")
	}
}

func FuzzParseWatchedPaths(f *testing.F) {
	for _, s := range []string{"", `["defaults"]`, `["defaults", {"prefix": "/opt/", "ops": "read|write"}]`,
		`[{"prefix": "/srv/", "ops": ["truncate", "link"]}, {"prefix": "/srv/", "ops": "read"}]`,
		`[{"prefix": "rel", "ops": "read"}]`, `[{"prefix": "/x", "ops": "read", "y": 1}]`, `[1]`, `{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseWatchedPaths(s, DefaultWatchedPaths)
		if err != nil {
			return
		}
		if len(got) > MaxWatchedPaths {
			t.Fatalf("%d prefixes", len(got))
		}
		if _, err := watchedEntries(got); err != nil {
			t.Fatalf("accepted %q but the kernel filter refuses it: %v", s, err)
		}
		back, err := ParseWatchedPaths(FormatWatchedPaths(got, DefaultWatchedPaths), DefaultWatchedPaths)
		if err != nil || !slices.Equal(back, got) {
			t.Fatalf("round trip of %q: %v, %v != %v", s, err, back, got)
		}
	})
}

// mapEntries reads the watched map, up to its first terminator.
func mapEntries(t *testing.T, c *Collector) []watchedEntry {
	t.Helper()
	var out []watchedEntry
	for i := range uint32(MaxWatchedPaths) {
		var e watchedEntry
		require.NoError(t, c.l.coll.Maps["watched"].Lookup(i, &e))
		if e.Len == 0 {
			for j := i + 1; j < MaxWatchedPaths; j++ {
				var z watchedEntry
				require.NoError(t, c.l.coll.Maps["watched"].Lookup(j, &z))
				require.Zero(t, z, "slot %d after the terminator", j)
			}
			break
		}
		out = append(out, e)
	}
	return out
}

// Every kind of change leaves the map holding exactly the new list.
func TestSetWatchedPathsRewritesTheFilter(t *testing.T) {
	c := newCollector(t, Options{Activity: true})
	if !c.Stats().Activity {
		t.Skip("system call activity is only built for amd64 and arm64")
	}
	p := func(n int) WatchedPath { return WatchedPath{"/w" + strconv.Itoa(n) + "/", OpRead} }
	full := make([]WatchedPath, MaxWatchedPaths)
	for i := range full {
		full[i] = p(100 + i)
	}
	lists := [][]WatchedPath{
		append(slices.Clone(DefaultWatchedPaths), p(1)), // one added
		append(slices.Clone(DefaultWatchedPaths), p(1), p(2), p(3)),
		{p(1)},                                  // shrunk and replaced
		{{p(1).Prefix, OpRead | OpWrite}, p(2)}, // operations changed
		{p(2), p(1)},                            // reordered
		full,                                    // every slot
		DefaultWatchedPaths,
	}
	for i, l := range lists {
		require.NoError(t, c.SetWatchedPaths(l), "list %d", i)
		want, err := watchedEntries(l)
		require.NoError(t, err)
		require.Equal(t, want, mapEntries(t, c), "list %d", i)
		require.Equal(t, l, c.WatchedPaths())
	}
	require.NoError(t, c.SetWatchedPaths(nil))
	require.Equal(t, DefaultWatchedPaths, c.WatchedPaths())

	// Refused: the list in effect stays, in the map too.
	require.Error(t, c.SetWatchedPaths([]WatchedPath{{"relative", OpRead}}))
	want, _ := watchedEntries(DefaultWatchedPaths)
	require.Equal(t, want, mapEntries(t, c))
}

// The kernelWatchedPaths key applied while the collector runs: a prefix
// added is reported from the next call on, a prefix removed no longer is,
// and a value the collector cannot use is refused with the previous list
// kept.
func TestApplyConfigWatchesWhileRunning(t *testing.T) {
	dir, marker := t.TempDir(), t.TempDir()
	secret, mark := filepath.Join(dir, "secret"), filepath.Join(marker, "mark")
	require.NoError(t, os.WriteFile(secret, []byte("s\n"), 0o600))
	require.NoError(t, os.WriteFile(mark, []byte("m\n"), 0o600))
	c := newCollector(t, Options{Activity: true})
	if !c.Stats().Activity {
		t.Skip("system call activity is only built for amd64 and arm64")
	}
	rec := run(t, c)
	get := func() []*event.KernelActivityPayload {
		return payloads[*event.KernelActivityPayload](rec, event.KernelActivity)
	}
	apply := func(value string) error {
		t.Helper()
		cfg, probs, err := twinconfig.Decode([]byte(`{"kernelWatchedPaths": {"value": ` + value + `}}`))
		require.NoError(t, err)
		require.Empty(t, probs)
		return c.ApplyConfig(cfg)
	}
	watch := func(prefixes ...string) string {
		s := `["defaults"`
		for _, p := range prefixes {
			s += `, {"prefix": "` + p + `/", "ops": "read"}`
		}
		return s + "]"
	}
	byPid := func(pid int) func(*event.KernelActivityPayload) bool {
		return func(a *event.KernelActivityPayload) bool { return a.ProcessID == pid || a.ParentProcessID == pid }
	}

	require.NoError(t, apply(watch(dir, marker)))
	pid := sh(t, "cat "+secret+" "+mark+" >/dev/null")
	a := waitActionFunc(t, get, event.ActivityOpenRead, secret, byPid(pid))
	assert.Equal(t, "read", a.Operations)
	waitActionFunc(t, get, event.ActivityOpenRead, mark, byPid(pid))

	// Without dir: the same open is no longer reported; the marker, read
	// after it by the same process, is.
	require.NoError(t, apply(watch(marker)))
	pid = sh(t, "cat "+secret+" "+mark+" >/dev/null")
	waitActionFunc(t, get, event.ActivityOpenRead, mark, byPid(pid))
	for _, a := range get() {
		if byPid(pid)(a) && a.Path == secret {
			t.Fatalf("%s reported after its prefix was removed: %+v", secret, a)
		}
	}

	// A value the collector cannot use: refused, naming the key, and the
	// list in effect keeps working.
	err := apply(`["defaults", {"prefix": "` + dir + `/", "ops": "read|execute"}]`)
	var p twinconfig.Problem
	require.True(t, errors.As(err, &p), "%v", err)
	assert.Equal(t, twinconfig.KeyKernelWatchedPaths, p.Key)
	assert.Equal(t, event.TypeMismatch, p.Kind)
	assert.Contains(t, p.Message, `unknown operation "execute"`)
	assert.Equal(t, FormatWatchedPaths(c.WatchedPaths(), DefaultWatchedPaths), p.Used)
	assert.Contains(t, p.Used, marker)
	pid = sh(t, "cat "+secret+" "+mark+" >/dev/null")
	waitActionFunc(t, get, event.ActivityOpenRead, mark, byPid(pid))
	for _, a := range get() {
		if byPid(pid)(a) && a.Path == secret {
			t.Fatalf("%s reported after a refused configuration: %+v", secret, a)
		}
	}

	// Back to the defaults.
	require.NoError(t, apply(`null`))
	assert.Equal(t, DefaultWatchedPaths, c.WatchedPaths())
}
