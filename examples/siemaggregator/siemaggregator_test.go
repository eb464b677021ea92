package siemaggregator_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/aggregate"
	"github.com/edgesec/edgesec/aggregate/aggregatetest"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/examples/siemaggregator"
)

func TestConformance(t *testing.T) {
	aggregatetest.Run(t, func() aggregate.Aggregator { return siemaggregator.New() })
}

func users(i int) event.Event {
	return event.Must(event.LocalUsers, time.Now(), &event.LocalUsersPayload{UserName: fmt.Sprintf("user%03d", i), UserID: "1", GroupIDs: "1", GroupNames: "g"})
}

func rule(i int) event.Event {
	return event.Must(event.FirewallConfiguration, time.Now(), &event.FirewallRulePayload{Priority: 100 + i, Enabled: true, Action: event.ActionAllow})
}

// names returns the UserName or firewall Priority of each body's single
// event, checking that each body holds exactly one.
func names(t *testing.T, bodies [][]byte) []string {
	t.Helper()
	var out []string
	for _, b := range bodies {
		var m struct {
			Events []struct{ Payload []map[string]any }
		}
		require.NoError(t, json.Unmarshal(b, &m))
		require.Len(t, m.Events, 1)
		p := m.Events[0].Payload[0]
		if u, ok := p["UserName"]; ok {
			out = append(out, u.(string))
		} else {
			out = append(out, fmt.Sprint(p["Priority"]))
		}
	}
	return out
}

// When the cache is full the oldest Low events go first, then the oldest
// High ones; a Low event never pushes out a High one.
func TestOverflowDropsLowestPriorityOldestFirst(t *testing.T) {
	a := siemaggregator.New()
	u, r := users(0), rule(0)
	size := max(len(u.AppendJSON(nil)), len(r.AppendJSON(nil)))
	a.Configure(aggregate.Settings{AgentVersion: "t", AgentID: "3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60", MaxCacheBytes: 3*size + size/2})

	a.Add(rule(1))
	a.Add(rule(2))
	a.Add(users(1))
	a.Add(users(2)) // evicts rule 1
	a.Add(users(3)) // evicts rule 2
	a.Add(users(4)) // evicts user 1
	a.Add(rule(3))  // no room, and no Low event to evict: dropped itself
	st := a.Stats()
	require.Equal(t, [3]int64{0, 1, 3}, st.Dropped)
	require.Equal(t, [3]int64{0, 4, 3}, st.Collected)
	require.Zero(t, st.Oversize)
	require.True(t, a.Ready())
	require.Equal(t, []string{"user002", "user003", "user004"}, names(t, a.Pack(event.High, true)))
	require.False(t, a.Ready())
	require.Empty(t, a.Pack(event.Low, false))
}

// Lowering maxMessageSizeInBytes drops the queued events that no longer
// fit, as oversize.
func TestConfigureDropsWhatNoLongerFits(t *testing.T) {
	a := siemaggregator.New()
	s := aggregate.Settings{AgentVersion: "t", AgentID: "3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60"}
	a.Configure(s)
	small, big := rule(1), users(2)
	big.Payload = []event.Item{&event.LocalUsersPayload{UserName: strings.Repeat("u", 500), UserID: "1", GroupIDs: "1", GroupNames: "g"}}
	a.Add(small)
	a.Add(big)
	s.MaxMessageBytes = event.MessageOverhead(s.AgentVersion, s.AgentID) + len(small.AppendJSON(nil)) + 10
	a.Configure(s)
	st := a.Stats()
	require.Equal(t, int64(1), st.Oversize)
	require.Equal(t, [3]int64{0, 1, 0}, st.Dropped)
	require.Equal(t, []string{"101"}, names(t, a.Pack(event.Low, false)))
}
