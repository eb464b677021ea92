package detect

import (
	"context"
	"io"
	"sync"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/stage"
	"github.com/edgesec/edgesec/twinconfig"
)

// NewFromTwin returns a Stage configured from the twin configuration's
// detection keys (see [Stage.ApplyConfig]); o.Config is ignored. A detection
// configuration that cannot be used does not stop the Stage: it starts
// with every built-in rule on and no custom alert, and emits the
// ConfigurationError with its first events. This is what the reference
// module calls.
func NewFromTwin(c twinconfig.Config, o Options) (*Stage, error) {
	o.Config = Config{}
	s, err := New(o)
	if err != nil {
		return nil, err
	}
	_ = s.ApplyConfig(c) // a refusal is reported as a ConfigurationError event
	return s, nil
}

// PrintStage returns a stage that writes [FormatLine] of every
// SecurityAlert and SecurityRecommendation event passing through it to w,
// one line each, and passes every event on. Put it after the detect Stage
// (the reference module's --alerts option). Writes are serialised; a write
// error is ignored (the events still go to the transport).
func PrintStage(w io.Writer) stage.Stage {
	var mu sync.Mutex
	return stage.Func{StageName: "alerts-printer", F: func(_ context.Context, ev *event.Event, _ stage.Emit) error {
		if ev.Name != event.SecurityAlert && ev.Name != event.SecurityRecommendation {
			return nil
		}
		line := FormatLine(*ev)
		if line == "" {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		_, _ = io.WriteString(w, line+"\n")
		return nil
	}}
}
