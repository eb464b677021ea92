package analyzertest

import (
	"strings"
	"testing"

	"github.com/edgesec/edgesec/detect"
	"github.com/edgesec/edgesec/event"
)

// leaky keeps every event: the flood check must catch it.
type leaky struct {
	kept []event.Event
	bufs [][]byte
}

func (l *leaky) Rules() []detect.Rule {
	return []detect.Rule{{ID: "Test_Leaky", Name: "Leaky", Kind: detect.KindAlert, Severity: event.AlertLow, Description: "d", Remediation: "r",
		Trigger: "t", Inputs: []string{event.ProcessCreate}}}
}
func (l *leaky) Analyze(_ *detect.Env, ev *event.Event) {
	l.kept = append(l.kept, *ev)
	l.bufs = append(l.bufs, make([]byte, 512))
}

// mutating changes the command lines it sees and raises invalid alerts.
type mutating struct{ leaky }

func (m *mutating) Analyze(env *detect.Env, ev *event.Event) {
	for _, it := range ev.Payload {
		if p, ok := it.(*event.ProcessCreatePayload); ok {
			p.CommandLine = "changed"
			env.Alert("Test_Leaky", "x", &event.SecurityAlertPayload{RemoteAddress: "not-an-ip", Description: "d"})
		}
	}
}

func TestChecksCatchBadAnalyzers(t *testing.T) {
	grown, _ := flood(t, &leaky{}, Options{FloodEvents: 40000})
	if grown < 4<<20 {
		t.Errorf("a leaky analyzer grew the heap by only %d bytes; the flood check would not catch it", grown)
	}
	probs := corpusProblems(t, &mutating{}, Options{CallTimeout: 5e9})
	var modified, invalid bool
	for _, p := range probs {
		modified = modified || strings.Contains(p, "modified a ProcessCreate")
		invalid = invalid || strings.Contains(p, "invalid SecurityAlert")
	}
	if !modified || !invalid {
		t.Errorf("mutating analyzer: modified %v invalid %v: %v", modified, invalid, probs)
	}
}

func TestGoodAnalyzerPasses(t *testing.T) {
	Run(t, func() detect.Analyzer { return detect.Builtin(detect.BuiltinOptions{}, 1000)[1] }, Options{FloodEvents: 20000})
}
