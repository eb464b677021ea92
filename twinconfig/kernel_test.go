package twinconfig

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/event"
)

func TestParseWatchedPaths(t *testing.T) {
	got, err := ParseWatchedPaths(`["defaults", {"prefix": "/opt/app/secrets/", "ops": "read|write"},
		{"prefix": "/srv/bin/", "ops": ["write", " delete "]}]`)
	require.NoError(t, err)
	require.Equal(t, []WatchedPathEntry{
		{Defaults: true},
		{Prefix: "/opt/app/secrets/", Ops: []string{"read", "write"}},
		{Prefix: "/srv/bin/", Ops: []string{"write", "delete"}},
	}, got)

	for _, empty := range []string{"", "  ", "null"} {
		got, err := ParseWatchedPaths(empty)
		require.NoError(t, err, empty)
		require.Empty(t, got, empty)
	}
	// The form only: names and prefixes the kernel collector refuses pass.
	got, err = ParseWatchedPaths(`[{"prefix": "relative/", "ops": "execute"}]`)
	require.NoError(t, err)
	require.Equal(t, []WatchedPathEntry{{Prefix: "relative/", Ops: []string{"execute"}}}, got)

	for _, bad := range []string{
		`{"prefix": "/x/", "ops": "read"}`,
		`["default"]`,
		`[null]`,
		`[42]`,
		`[["defaults"]]`,
		`[{"prefix": "/x/"}]`,
		`[{"ops": "read"}]`,
		`[{"prefix": "", "ops": "read"}]`,
		`[{"prefix": 7, "ops": "read"}]`,
		`[{"prefix": "/x/", "ops": ""}]`,
		`[{"prefix": "/x/", "ops": "read|"}]`,
		`[{"prefix": "/x/", "ops": []}]`,
		`[{"prefix": "/x/", "ops": [1]}]`,
		`[{"prefix": "/x/", "ops": null}]`,
		`[{"prefix": "/x/", "ops": "read", "recursive": true}]`,
		`[` + strings.Repeat(`"defaults",`, maxWatchedPathsElements) + `"defaults"]`,
		"[\"\xff\"]",
	} {
		_, err := ParseWatchedPaths(bad)
		require.Error(t, err, bad)
	}
}

func TestKernelWatchedPathsKey(t *testing.T) {
	decode := func(v string) (Config, []Problem) {
		t.Helper()
		c, probs, err := Decode([]byte(`{"kernelWatchedPaths": {"value": ` + v + `}}`))
		require.NoError(t, err)
		return c, probs
	}
	// The built-in list, however it is written, is one setting.
	for _, v := range []string{`null`, `[]`, `["defaults"]`, `""`, `"[\"defaults\"]"`} {
		c, probs := decode(v)
		require.Empty(t, probs, v)
		require.Equal(t, "", c.KernelWatchedPaths, v)
		require.True(t, c.SameSettings(Default()), v)
	}
	// An array given as a string (as the other array keys accept).
	c, probs := decode(`"[{\"prefix\": \"/opt/\", \"ops\": \"read\"}]"`)
	require.Empty(t, probs)
	require.Equal(t, `[{"prefix":"/opt/","ops":"read"}]`, c.KernelWatchedPaths)

	// A bad form is a TypeMismatch of this key; the default stays.
	c, probs = decode(`[{"prefix": "/opt/", "ops": 3}]`)
	require.Len(t, probs, 1)
	require.Equal(t, KeyKernelWatchedPaths, probs[0].Key)
	require.Equal(t, event.TypeMismatch, probs[0].Kind)
	require.Contains(t, probs[0].Message, `"ops"`)
	require.Equal(t, `["defaults"]`, probs[0].Used)
	require.Equal(t, "", c.KernelWatchedPaths)

	// Reported: the built-in list as ["defaults"], a list as written.
	doc, err := Reported(Default())
	require.NoError(t, err)
	var rep map[string]map[string]struct{ Value json.RawMessage }
	require.NoError(t, json.Unmarshal(doc, &rep))
	require.JSONEq(t, `["defaults"]`, string(rep[ObjectName][KeyKernelWatchedPaths].Value))

	info, ok := func() (KeyInfo, bool) {
		for _, k := range Keys() {
			if k.Name == KeyKernelWatchedPaths {
				return k, true
			}
		}
		return KeyInfo{}, false
	}()
	require.True(t, ok)
	require.True(t, info.Extension)
	require.Equal(t, TypeJSONArray, info.Type)
}
