package twinconfig

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseDurationValid(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"PT1S", time.Second},
		{"PT7M", 7 * time.Minute},
		{"PT5H", 5 * time.Hour},
		{"PT13H", 13 * time.Hour},
		{"PT1H", time.Hour},
		{"PT30M", 30 * time.Minute},
		{"P1D", 24 * time.Hour},
		{"P1W", 7 * 24 * time.Hour},
		{"P1M", 30 * 24 * time.Hour},
		{"P1Y", 365 * 24 * time.Hour},
		{"P1Y2M3W4DT5H6M7S", (365+60+21+4)*24*time.Hour + 5*time.Hour + 6*time.Minute + 7*time.Second},
		{"P1DT12H", 36 * time.Hour},
		{"PT0S", 0},
		{"PT1.5S", 1500 * time.Millisecond},
		{"PT0.001S", time.Millisecond},
		{"PT0.0000000019S", time.Nanosecond}, // truncated below 1ns
		{"PT1.5H", 90 * time.Minute},
		{"PT1H1.5M", time.Hour + 90*time.Second},
		{"P0.5D", 12 * time.Hour},
		{"P1.5Y", 365 * 36 * time.Hour},
		{"PT90M", 90 * time.Minute},
		{"PT3600S", time.Hour},
		{"PT1H30M1.25S", time.Hour + 30*time.Minute + 1250*time.Millisecond},
		{"P0000001D", 24 * time.Hour},
		{"PT9223372036.854775807S", math.MaxInt64},
		{"PT0.123456789123456789123S", 123456789},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseDurationInvalid(t *testing.T) {
	tests := []struct {
		in       string
		rangeErr bool
	}{
		{in: ""},
		{in: "P"},
		{in: "PT"},
		{in: "T1H"},
		{in: "1H"},
		{in: "p1d"},
		{in: "pt1h"},
		{in: "PT1h"},
		{in: "P1DT"},
		{in: "PT5"},
		{in: "P5"},
		{in: "-PT1S"},
		{in: "PT-1S"},
		{in: "+PT1S"},
		{in: " PT1S"},
		{in: "PT1S "},
		{in: "PT1,5S"},
		{in: "PT.5S"},
		{in: "PT1.S"},
		{in: "PT1M1H"},    // out of order
		{in: "PT1H1H"},    // repeated
		{in: "P1D1Y"},     // out of order
		{in: "P1H"},       // time unit in the date part
		{in: "PT1D"},      // date unit in the time part
		{in: "PT1.5H30M"}, // fraction not in the last component
		{in: "P1.5DT1H"},  // fraction not in the last component
		{in: "P1.5Y1D"},   // fraction not in the last component
		{in: "PT1S1S"},
		{in: "P1W1W"},
		{in: "PTS"},
		{in: "P1Y2M3W4DT5H6M7S8"},
		{in: "1 hour"},
		{in: "01:00:00"},
		{in: "PT١S"}, // non-ASCII digit
		{in: "P300Y", rangeErr: true},
		{in: "PT9223372037S", rangeErr: true},
		{in: "PT99999999999999999999999S", rangeErr: true},
		{in: "P106751D1", rangeErr: false},
		{in: "P106751DT23H47M16.854775808S", rangeErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseDuration(tt.in)
			require.Error(t, err)
			if tt.rangeErr {
				require.ErrorIs(t, err, ErrDurationRange)
			} else {
				require.ErrorIs(t, err, ErrDurationSyntax)
			}
		})
	}
}

// TestParseDurationMatchesOfficialPattern checks that ParseDuration accepts
// exactly what the official schema's pattern accepts (except durations too
// long for a time.Duration).
func TestParseDurationMatchesOfficialPattern(t *testing.T) {
	re, ok := compileOfficialPattern(officialDurationPattern(t))
	require.True(t, ok)
	cases := []string{"P", "PT", "PT1S", "P1D", "P1DT", "PT1.5H", "PT1.5H1M", "P1.5D", "P1.5DT1H", "P1Y2M3W4DT5H6M7.5S",
		"PT1M1H", "P1H", "PT1D", "PT5", "P0D", "PT0S", "P1Y1Y", "PT1.0S", "P1W", "P2.25W", "PT0.5M", "P1M1D", "PT1M1S", "P1MT1M"}
	for _, s := range cases {
		_, err := ParseDuration(s)
		require.Equal(t, re.MatchString(s), err == nil, "%q: pattern %v, ParseDuration %v", s, re.MatchString(s), err)
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "PT0S"},
		{time.Second, "PT1S"},
		{7 * time.Minute, "PT7M"},
		{5 * time.Hour, "PT5H"},
		{13 * time.Hour, "PT13H"},
		{24 * time.Hour, "P1D"},
		{36 * time.Hour, "P1DT12H"},
		{90 * time.Second, "PT1M30S"},
		{1500 * time.Millisecond, "PT1.5S"},
		{time.Nanosecond, "PT0.000000001S"},
		{365 * 24 * time.Hour, "P365D"},
		{24*time.Hour + time.Second, "P1DT1S"},
		{-time.Second, "-PT1S"},
		{math.MaxInt64, "P106751DT23H47M16.854775807S"},
		{math.MinInt64, "-P106751DT23H47M16.854775808S"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			require.Equal(t, tt.want, FormatDuration(tt.in))
			if tt.in >= 0 {
				back, err := ParseDuration(tt.want)
				require.NoError(t, err)
				require.Equal(t, tt.in, back)
			}
		})
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"PT7M", "PT5H", "P1Y2M3W4DT5H6M7.5S", "PT1.5H", "P", "PT", "P1DT", "PT99999999999S", "P1.5DT1H"} {
		f.Add(s)
	}
	re, ok := compileOfficialPattern(officialDurationPattern(f))
	if !ok {
		f.Fatal("cannot compile the official pattern")
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		matches := re.MatchString(s)
		if err != nil {
			if matches && !errors.Is(err, ErrDurationRange) {
				t.Fatalf("%q matches the official pattern but: %v", s, err)
			}
			return
		}
		if !matches {
			t.Fatalf("%q parsed (%v) but does not match the official pattern", s, d)
		}
		if d < 0 {
			t.Fatalf("%q parsed to a negative duration %v", s, d)
		}
		f := FormatDuration(d)
		back, err := ParseDuration(f)
		if err != nil || back != d {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, d, f, back, err)
		}
	})
}
