package baseline

import (
	"regexp"
	"strings"
	"testing"
)

// The grammars isCustomID and isSysctlKey implement, as the regular
// expressions they replace.
var (
	customIDGrammar  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)
	sysctlKeyGrammar = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,255}$`)
)

func TestNameChecks(t *testing.T) {
	for _, tc := range []struct {
		s              string
		custom, sysctl bool
	}{
		{"", false, false},
		{"a", true, true},
		{"_a", false, true},
		{"net.ipv4.ip_forward", true, true},
		{"net/ipv4/conf/all/rp_filter", false, true},
		{"corp:ssh-banner_1.0", true, false},
		{"-a", false, false},
		{".a", false, false},
		{"a b", false, false},
		{"a\n", false, false},
		{"kernel.é", false, false},
		{strings.Repeat("a", 64), true, true},
		{strings.Repeat("a", 65), false, true},
		{strings.Repeat("a", 256), false, true},
		{strings.Repeat("a", 257), false, false},
	} {
		if got := isCustomID(tc.s); got != tc.custom {
			t.Errorf("isCustomID(%q) = %v, want %v", tc.s, got, tc.custom)
		}
		if got := isSysctlKey(tc.s); got != tc.sysctl {
			t.Errorf("isSysctlKey(%q) = %v, want %v", tc.s, got, tc.sysctl)
		}
	}
}

func FuzzNameChecks(f *testing.F) {
	for _, s := range []string{"", "a", "net.ipv4.ip_forward", "a:b-c_d.e/f", strings.Repeat("z", 64), "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isCustomID(s), customIDGrammar.MatchString(s); got != want {
			t.Fatalf("isCustomID(%q) = %v, the grammar says %v", s, got, want)
		}
		if got, want := isSysctlKey(s), sysctlKeyGrammar.MatchString(s); got != want {
			t.Fatalf("isSysctlKey(%q) = %v, the grammar says %v", s, got, want)
		}
	})
}
