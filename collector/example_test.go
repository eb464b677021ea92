package collector_test

import (
	"context"
	"fmt"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
)

// A periodic collector is a Poller wrapped with Every. It polls once at
// start, then at the interval the function returns (which may follow live
// configuration).
func ExampleEvery() {
	poller := collector.PollerFunc(func(ctx context.Context) ([]event.Event, error) {
		ev := event.Must(event.LocalUsers, time.Now(),
			&event.LocalUsersPayload{UserName: "root", UserID: "0", GroupIDs: "0", GroupNames: "root"})
		return []event.Event{ev}, nil
	})
	users := collector.Every("LocalUsers", func() time.Duration { return 13 * time.Hour }, poller)

	ctx, cancel := context.WithCancel(context.Background())
	sink := collector.SinkFunc(func(ctx context.Context, events ...event.Event) error {
		for _, ev := range events {
			fmt.Println(ev.Name, ev.Category, len(ev.Payload), "item")
		}
		cancel() // one snapshot is enough for the example
		return nil
	})
	err := users.Run(ctx, sink)
	fmt.Println("Run returned", err)
	// Output:
	// LocalUsers Periodic 1 item
	// Run returned <nil>
}
