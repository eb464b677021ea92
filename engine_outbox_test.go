package edgesec_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	edgesec "github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/transport/transporttest"
)

// The delivery counters come from the outbox: a message the transport
// refused permanently is counted in MessageStatistics' TotalFailed and in
// DroppedEventsStatistics (ExtraDetails OutboxDroppedMessages), and the
// messages sent in MessagesSent.
func TestDeliveryStatisticsComeFromTheOutbox(t *testing.T) {
	rec := transporttest.NewRecorder()
	flaky := transporttest.NewFlaky(rec, transporttest.FailPermanent, 1)
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: flaky, Config: fastConfig(t, ""), FirstMessageDelay: 100 * time.Millisecond})
	e.AddPoller(event.SystemInformation, sysinfoPoller())
	run(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := rec.WaitFor(ctx, 1)
	require.NoError(t, err)
	var failed, dropped, sent bool
	waitFor(t, 10*time.Second, "statistics of the rejected message", func() bool {
		for _, ev := range decode(t, rec.Messages()) {
			switch ev.Name {
			case event.MessageStatistics:
				failed = failed || ev.Payload[0]["TotalFailed"].(float64) == 1
				sent = sent || ev.Payload[0]["MessagesSent"].(float64) >= 1
			case event.DroppedEventsStatistics:
				for _, item := range ev.Payload {
					if ed, ok := item["ExtraDetails"].(map[string]any); ok && ed[edgesec.ExtraOutboxDropped] == "1" {
						dropped = true
					}
				}
			}
		}
		return failed && dropped && sent
	})
}
