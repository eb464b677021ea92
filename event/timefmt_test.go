package event

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// withLocal runs f with time.Local set to loc.
func withLocal(loc *time.Location, f func()) {
	old := time.Local
	time.Local = loc
	defer func() { time.Local = old }()
	f()
}

func testZones() []*time.Location {
	zones := []*time.Location{time.UTC, time.FixedZone("IST", 5*3600+1800), time.FixedZone("NST", -(3*3600 + 1800)),
		time.FixedZone("CHAST", 12*3600+45*60), time.FixedZone("odd", 37), time.FixedZone("LMT", -(4*3600 + 56*60 + 2))}
	for _, name := range []string{"Europe/London", "America/New_York", "Australia/Lord_Howe"} {
		if loc, err := time.LoadLocation(name); err == nil {
			zones = append(zones, loc)
		}
	}
	return zones
}

func TestAppendTimeMatchesEventFormat(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, loc := range testZones() {
		withLocal(loc, func() {
			for range 2000 {
				tm := time.Unix(rng.Int64N(1<<36)-1<<35, rng.Int64N(1e9)).In(time.UTC)
				if rng.IntN(2) == 0 {
					tm = tm.In(loc)
				}
				require.Equal(t, tm.Local().Format(localLayout), string(AppendLocal(nil, tm)), "zone %s time %v", loc, tm)
				require.Equal(t, tm.UTC().Format(utcLayout), string(AppendUTC(nil, tm)), "time %v", tm)
			}
			for _, tm := range []time.Time{{}, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} {
				require.Equal(t, tm.Local().Format(localLayout), string(AppendLocal(nil, tm)))
				require.Equal(t, tm.UTC().Format(utcLayout), string(AppendUTC(nil, tm)))
			}
		})
	}
}

// BenchmarkTimestamp compares the layout-free timestamp appenders with
// time.AppendFormat, the alternative.
func BenchmarkTimestamp(b *testing.B) {
	t := time.Date(2025, 3, 1, 12, 34, 56, 789e6, time.UTC)
	buf := make([]byte, 0, 64)
	b.Run("AppendLocal+AppendUTC", func(b *testing.B) {
		for b.Loop() {
			buf = AppendUTC(AppendLocal(buf[:0], t), t)
		}
	})
	b.Run("AppendFormat", func(b *testing.B) {
		for b.Loop() {
			buf = t.UTC().AppendFormat(t.Local().AppendFormat(buf[:0], localLayout), utcLayout)
		}
	})
}
