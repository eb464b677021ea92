package containertest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
)

// EventSource is what WaitActivity reads: collectortest's Recorder.
type EventSource interface {
	Events() []event.Event
}

// Activities returns the ContainerActivity items of the events.
func Activities(evs []event.Event) []*event.ContainerActivityPayload {
	var out []*event.ContainerActivityPayload
	for _, ev := range evs {
		if ev.Name != event.ContainerActivity {
			continue
		}
		for _, it := range ev.Payload {
			if p, ok := it.(*event.ContainerActivityPayload); ok {
				out = append(out, p)
			}
		}
	}
	return out
}

// WaitActivity waits up to d for an activity of containerID with action
// that also satisfies ok (nil: any), and returns it; it fails t otherwise.
func WaitActivity(t testing.TB, src EventSource, d time.Duration, containerID, action string, ok func(*event.ContainerActivityPayload) bool) *event.ContainerActivityPayload {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		for _, p := range Activities(src.Events()) {
			if p.ContainerID == containerID && p.Action == action && (ok == nil || ok(p)) {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s activity for %s within %v; got:\n%s", action, containerID, d, Describe(Activities(src.Events()), containerID))
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Count returns how many activities of containerID with action there are.
func Count(src EventSource, containerID, action string) int {
	n := 0
	for _, p := range Activities(src.Events()) {
		if p.ContainerID == containerID && p.Action == action {
			n++
		}
	}
	return n
}

// Describe lists the activities of containerID (all when "") for failure
// messages.
func Describe(ps []*event.ContainerActivityPayload, containerID string) string {
	var b strings.Builder
	for _, p := range ps {
		if containerID != "" && p.ContainerID != containerID {
			continue
		}
		code := ""
		if p.ExitCode != nil {
			code = fmt.Sprint(*p.ExitCode)
		}
		fmt.Fprintf(&b, "  %s %s name=%q module=%q exit=%s cmd=%q %v\n", p.Action, p.ContainerID, p.ContainerName, p.ModuleName, code, p.Command, p.ExtraDetails)
	}
	return b.String()
}
