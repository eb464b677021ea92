package twinconfig

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func jsonEq(t *testing.T, want string, got []byte) {
	t.Helper()
	require.JSONEq(t, want, string(got))
}

func TestMergeDesired(t *testing.T) {
	desired := `{"` + ObjectName + `":{"snapshotFrequency":{"value":"PT1H"},"eventPriorityLogin":{"value":"Low"}},"other":{"a":1,"b":2},"$version":4}`

	t.Run("next version merges", func(t *testing.T) {
		patch := `{"` + ObjectName + `":{"snapshotFrequency":{"value":"PT2H"},"eventPriorityLogin":null,"heartbeatFrequency":{"value":"PT1M"}},"other":{"b":null,"c":[1,2]},"new":"x","$version":5}`
		merged, ok, gap, err := MergeDesired([]byte(desired), []byte(patch))
		require.NoError(t, err)
		require.True(t, ok)
		require.False(t, gap)
		jsonEq(t, `{"`+ObjectName+`":{"snapshotFrequency":{"value":"PT2H"},"heartbeatFrequency":{"value":"PT1M"}},"other":{"a":1,"c":[1,2]},"new":"x","$version":5}`, merged)
		c, probs, err := Decode(merged)
		require.NoError(t, err)
		require.Empty(t, probs)
		require.Equal(t, int64(5), c.Version)
	})
	t.Run("same version is ignored", func(t *testing.T) {
		merged, ok, gap, err := MergeDesired([]byte(desired), []byte(`{"new":1,"$version":4}`))
		require.NoError(t, err)
		require.False(t, ok)
		require.False(t, gap)
		require.Equal(t, desired, string(merged))
	})
	t.Run("older version is ignored", func(t *testing.T) {
		_, ok, gap, err := MergeDesired([]byte(desired), []byte(`{"new":1,"$version":2}`))
		require.NoError(t, err)
		require.False(t, ok)
		require.False(t, gap)
	})
	t.Run("gap", func(t *testing.T) {
		merged, ok, gap, err := MergeDesired([]byte(desired), []byte(`{"new":1,"$version":7}`))
		require.NoError(t, err)
		require.True(t, ok)
		require.True(t, gap)
		var m map[string]any
		require.NoError(t, json.Unmarshal(merged, &m))
		require.Equal(t, float64(7), m["$version"])
		require.Equal(t, float64(1), m["new"])
	})
	t.Run("patch replaces a scalar by an object, dropping nulls", func(t *testing.T) {
		merged, ok, _, err := MergeDesired([]byte(`{"a":1,"$version":1}`), []byte(`{"a":{"b":null,"c":2},"$version":2}`))
		require.NoError(t, err)
		require.True(t, ok)
		jsonEq(t, `{"a":{"c":2},"$version":2}`, merged)
	})
	t.Run("empty desired", func(t *testing.T) {
		merged, ok, gap, err := MergeDesired(nil, []byte(`{"a":1,"$version":1}`))
		require.NoError(t, err)
		require.True(t, ok)
		require.False(t, gap)
		jsonEq(t, `{"a":1,"$version":1}`, merged)
	})
	t.Run("large numbers are kept exactly", func(t *testing.T) {
		merged, _, _, err := MergeDesired([]byte(`{"$version":9007199254740993}`), []byte(`{"n":12345678901234567890,"$version":9007199254740994}`))
		require.NoError(t, err)
		jsonEq(t, `{"n":12345678901234567890,"$version":9007199254740994}`, merged)
		require.Contains(t, string(merged), `9007199254740994`)
	})
	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			desired, patch string
			want           error
		}{
			{`{"$version":1}`, `{"a":1}`, ErrNoVersion},
			{`{"$version":1}`, `{"$version":"2"}`, ErrNoVersion},
			{`{"$version":1}`, `{"$version":-2}`, ErrNoVersion},
			{`{"$version":1}`, `{"$version":2.5}`, ErrNoVersion},
			{`{"$version":"x"}`, `{"$version":2}`, ErrNoVersion},
			{`{"$version":1}`, `{"$version":2`, ErrSyntax},
			{`{"$version":1`, `{"$version":2}`, ErrSyntax},
			{`[]`, `{"$version":2}`, ErrShape},
			{`{"$version":1}`, `null`, ErrShape},
			{`{"$version":1}`, `{"$version":2,"x":"` + string(make([]byte, MaxDocumentSize)) + `"}`, ErrTooLarge},
		} {
			_, ok, _, err := MergeDesired([]byte(tc.desired), []byte(tc.patch))
			require.ErrorIs(t, err, tc.want, "%s + %s", tc.desired, truncate(tc.patch, 40))
			require.False(t, ok)
		}
	})
}

func FuzzMergeDesired(f *testing.F) {
	f.Add([]byte(`{"a":{"b":1},"$version":1}`), []byte(`{"a":{"b":null,"c":2},"$version":2}`))
	f.Add([]byte(`{"$version":5}`), []byte(`{"$version":9}`))
	f.Add([]byte(``), []byte(`{"`+ObjectName+`":{"snapshotFrequency":{"value":"PT1H"}},"$version":1}`))
	f.Add([]byte(`{"$version":3}`), []byte(`{"$version":2}`))
	f.Fuzz(func(t *testing.T, desired, patch []byte) {
		merged, ok, gap, err := MergeDesired(desired, patch)
		if err != nil {
			if ok || gap || merged != nil {
				t.Fatal("results with an error")
			}
			return
		}
		if !ok {
			if gap || string(merged) != string(desired) {
				t.Fatal("ignored patch changed something")
			}
			return
		}
		var m map[string]any
		if err := json.Unmarshal(merged, &m); err != nil {
			t.Fatalf("merged is not a JSON object: %v", err)
		}
		var p map[string]json.RawMessage
		if err := json.Unmarshal(patch, &p); err != nil {
			t.Fatal(err)
		}
		var mv map[string]json.RawMessage
		if err := json.Unmarshal(merged, &mv); err != nil {
			t.Fatal(err)
		}
		if string(mv["$version"]) != string(p["$version"]) {
			var a, b int64
			if json.Unmarshal(mv["$version"], &a) != nil || json.Unmarshal(p["$version"], &b) != nil || a != b {
				t.Fatalf("merged $version %s, patch %s", mv["$version"], p["$version"])
			}
		}
		// Merging the same patch again is a no-op (not newer).
		again, ok, _, err := MergeDesired(merged, patch)
		if err != nil || ok || string(again) != string(merged) {
			t.Fatalf("re-applying the patch: ok=%v err=%v", ok, err)
		}
		// Decoding the merged document never fails because of the merge.
		if len(merged) <= MaxDocumentSize {
			_, _, _ = Decode(merged)
		}
	})
}
