package baseline_test

import (
	"context"
	"os/exec"
	"testing"

	"github.com/edgesec/edgesec/collector/baseline"
	"github.com/edgesec/edgesec/event"
)

// BenchmarkPoll is one full OSBaseline poll of this host: every built-in
// check, the world-writable search included.
func BenchmarkPoll(b *testing.B) {
	p := baseline.New(baseline.Options{})
	ctx := context.Background()
	items := 0
	for b.Loop() {
		evs, err := p.Poll(ctx)
		if err != nil {
			b.Fatal(err)
		}
		items = 0
		for _, ev := range evs {
			items += len(ev.Payload)
		}
	}
	b.ReportMetric(float64(len(baseline.Builtin())), "checks/op")
	b.ReportMetric(float64(items), "failed/op")
}

// BenchmarkWorldWritable compares the world-writable search, the one
// check that walks the filesystem, with the find(1) command an
// administrator would run for it.
func BenchmarkWorldWritable(b *testing.B) {
	var ww baseline.Check
	for _, c := range baseline.Builtin() {
		if c.ID == "EDGESEC-FILE-4" {
			ww = c
		}
	}
	b.Run("ours", func(b *testing.B) {
		for b.Loop() {
			h := baseline.NewHost(context.Background(), baseline.NewHostFS("/"), baseline.WalkLimits{})
			if r := ww.Run(h); r.Status == event.BaselineErr {
				b.Fatal(r.Err)
			}
		}
	})
	b.Run("find", func(b *testing.B) {
		if _, err := exec.LookPath("find"); err != nil {
			b.Skip("find is not installed")
		}
		for b.Loop() {
			cmd := exec.Command("find", "/etc", "/usr/bin", "/usr/sbin", "/bin", "/sbin", "-perm", "-0002", "!", "-type", "l",
				"(", "-type", "f", "-o", "(", "-type", "d", "!", "-perm", "-1000", ")", ")")
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
