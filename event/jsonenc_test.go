package event_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/edgesec/edgesec/event"
)

func TestAppendString(t *testing.T) {
	cases := []struct {
		in, want string // want is the exact encoding
	}{
		{"", `""`},
		{"plain /usr/bin/x", `"plain /usr/bin/x"`},
		{`quote " backslash \`, `"quote \" backslash \\"`},
		{"nl\ncr\rtab\t", `"nl\ncr\rtab\t"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"<script>&", `"\u003cscript\u003e\u0026"`},
		{"line\u2028para\u2029", `"line\u2028para\u2029"`},
		{"héllo wörld ✓ 🚀", `"héllo wörld ✓ 🚀"`},
		{"bad\xffbyte", `"bad\ufffdbyte"`},
		{"\xc3", `"\ufffd"`},                               // truncated sequence
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`},           // UTF-16 surrogate encoded in UTF-8
		{"\xf4\x90\x80\x80", `"\ufffd\ufffd\ufffd\ufffd"`}, // beyond U+10FFFF
	}
	for _, c := range cases {
		got := event.AppendString(nil, c.in)
		if string(got) != c.want {
			t.Errorf("AppendString(%q) = %s, want %s", c.in, got, c.want)
		}
		if !json.Valid(got) {
			t.Errorf("AppendString(%q) = %s: invalid JSON", c.in, got)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		if want := string([]rune(c.in)); back != want {
			t.Errorf("round trip of %q = %q, want %q", c.in, back, want)
		}
	}
	if got := event.AppendString([]byte("x:"), "y"); string(got) != `x:"y"` {
		t.Errorf("AppendString does not append: %s", got)
	}
}

func TestAppendStringMap(t *testing.T) {
	for _, c := range []struct {
		in   map[string]string
		want string
	}{
		{nil, `{}`},
		{map[string]string{"k": "v"}, `{"k":"v"}`},
		{map[string]string{"b": "2", "a": "1", "c\n": "\xff"}, `{"a":"1","b":"2","c\n":"\ufffd"}`},
	} {
		got := event.AppendStringMap(nil, c.in)
		if string(got) != c.want || !json.Valid(got) {
			t.Errorf("AppendStringMap(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\", "\n\x00", "\xff\xfe", "\u2028", "🚀", "\xed\xa0\x80", "<>&", strings.Repeat("é", 10)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := event.AppendString(nil, s)
		if !json.Valid(got) {
			t.Fatalf("AppendString(%q) = %s: invalid JSON", s, got)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		// Every byte of invalid UTF-8 becomes one U+FFFD, as []rune does.
		if want := string([]rune(s)); back != want {
			t.Fatalf("round trip of %q = %q, want %q", s, back, want)
		}
		// Payload strings go through the same path.
		item := &event.ProcessCreatePayload{Executable: s, CommandLine: s, UserID: s, ExtraDetails: event.ExtraDetails{s: s}}
		if b := item.AppendJSON(nil); !json.Valid(b) {
			t.Fatalf("payload with %q: invalid JSON %s", s, b)
		}
	})
}
