package aggregate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/event"
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

func TestAggregateEstimateIsUpperBound(t *testing.T) {
	for _, loc := range testZones() {
		withLocal(loc, func() {
			c := newClock()
			p := New(settings(c, time.Hour))
			t0 := time.Date(2025, 3, 30, 0, 30, 0, 0, time.UTC) // around DST changes
			evs := []event.Event{
				procCreate(t0, "/bin/ls", "ls <&>", "0", 1),
				connCreate(t0, "In", "22", "5000", 2),
				procTerm(t0, "/bin/ls", -1, 3),
			}
			evs[0].Payload[0].(*event.ProcessCreatePayload).ExtraDetails = event.ExtraDetails{"ContainerId": "c", "\u2028": "\x01"}
			for _, ev := range evs {
				p.Add(ev)
			}
			for _, a := range p.agg.m {
				est := a.est
				a.hits = 1<<63 - 1
				a.last = t0.Add(200 * 24 * time.Hour)
				e := p.agg.event(a)
				require.LessOrEqual(t, len(e.AppendJSON(nil)), est, "kind %d zone %s", a.kind, loc)
				require.Greater(t, len(e.AppendJSON(nil)), est-20, "estimate is tight")
			}
		})
	}
}
