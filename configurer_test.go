package edgesec_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/transport/transporttest"
	"github.com/edgesec/edgesec/twinconfig"
)

// configured is a collector that follows the configuration: it takes
// hubResourceId as its setting and refuses "bad…" values, keeping the
// last good one.
type configured struct {
	mu      sync.Mutex
	running bool
	calls   []string // hubResourceId of every ApplyConfig, "run" when Run started
	setting string
}

func (c *configured) Name() string { return event.ProcessCreate }

func (c *configured) Run(ctx context.Context, _ collector.Sink) error {
	c.mu.Lock()
	c.running = true
	c.calls = append(c.calls, "run")
	c.mu.Unlock()
	<-ctx.Done()
	c.mu.Lock()
	c.running = false
	c.mu.Unlock()
	return nil
}

func (c *configured) ApplyConfig(cfg twinconfig.Config) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, cfg.HubResourceID)
	switch cfg.HubResourceID {
	case "bad":
		return twinconfig.Problem{Key: "hubResourceId", Kind: event.TypeMismatch, Message: "not a hub", Used: c.setting}
	case "bad-plain":
		return errors.New("cannot use it")
	}
	c.setting = cfg.HubResourceID
	return nil
}

func (c *configured) state() (calls []string, setting string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...), c.setting
}

var _ collector.Configurer = (*configured)(nil)

// configErrors returns the ConfigurationError items sent so far.
func configErrors(t *testing.T, rec *transporttest.Recorder) []map[string]any {
	var out []map[string]any
	for _, ev := range decode(t, rec.Messages()) {
		if ev.Name == event.ConfigurationError {
			out = append(out, ev.Payload...)
		}
	}
	return out
}

func TestCollectorsFollowTheConfiguration(t *testing.T) {
	rec := transporttest.NewRecorder()
	src := &chanSource{docs: make(chan []byte)}
	base := fastConfig(t, `,"hubResourceId":{"value":"hub-0"}`)
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec, Config: base,
		ConfigSources: []edgesec.ConfigSource{src}, FirstMessageDelay: 100 * time.Millisecond, ConfigWait: -1})
	c := &configured{}
	e.AddCollector(c)
	run(t, e)
	waitFor(t, 5*time.Second, "collector running", func() bool { calls, _ := c.state(); return len(calls) >= 2 })
	calls, setting := c.state()
	require.Equal(t, []string{"hub-0", "run"}, calls, "the configuration in effect is applied before Run")
	require.Equal(t, "hub-0", setting)

	doc := func(hub string) []byte {
		return fmt.Appendf(nil, `{"highPriorityMessageFrequency":{"value":"PT1S"},"lowPriorityMessageFrequency":{"value":"PT2S"},"hubResourceId":{"value":%q}}`, hub)
	}
	src.docs <- doc("hub-1")
	waitFor(t, 5*time.Second, "hub-1 applied", func() bool { _, s := c.state(); return s == "hub-1" })

	// A refusal keeps the collector's last good setting and is sent as a
	// ConfigurationError naming the key of the Problem.
	src.docs <- doc("bad")
	waitFor(t, 10*time.Second, "ConfigurationError of hubResourceId", func() bool {
		for _, it := range configErrors(t, rec) {
			if it["ConfigurationName"] == "hubResourceId" {
				require.Equal(t, event.TypeMismatch, it["ErrorType"])
				require.Equal(t, "hub-1", it["UsedConfiguration"])
				require.Contains(t, it["Message"], "not a hub")
				return true
			}
		}
		return false
	})
	_, setting = c.state()
	require.Equal(t, "hub-1", setting)

	// An error that is no Problem names the configuration object.
	src.docs <- doc("bad-plain")
	waitFor(t, 10*time.Second, "ConfigurationError of the object", func() bool {
		for _, it := range configErrors(t, rec) {
			if it["ConfigurationName"] == twinconfig.ObjectName && it["Message"] == event.ProcessCreate+": cannot use it" {
				return true
			}
		}
		return false
	})

	// A collector the configuration turns Off still follows it, and
	// starts again on the latest settings.
	src.docs <- []byte(`{"highPriorityMessageFrequency":{"value":"PT1S"},"lowPriorityMessageFrequency":{"value":"PT2S"},"hubResourceId":{"value":"hub-2"},"eventPriorityProcessCreate":{"value":"Off"}}`)
	waitFor(t, 5*time.Second, "collector stopped with hub-2", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.running && c.setting == "hub-2"
	})
	src.docs <- doc("hub-3")
	waitFor(t, 5*time.Second, "collector restarted with hub-3", func() bool {
		calls, s := c.state()
		return s == "hub-3" && calls[len(calls)-1] == "run" && calls[len(calls)-2] == "hub-3"
	})
}
