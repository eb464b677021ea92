package collector_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/schemas"
)

func users(n int, name string) []event.Item {
	items := make([]event.Item, n)
	for i := range items {
		items[i] = &event.LocalUsersPayload{UserName: name + strconv.Itoa(i), UserID: strconv.Itoa(1000 + i),
			GroupNames: "users", GroupIDs: "100"}
	}
	return items
}

func TestSplitBoundsEveryEvent(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 3, 3, 12, 0, 0, 0, time.UTC)
	items := users(500, "user")
	const limit = 4096
	evs := collector.Split(event.LocalUsers, now, items, limit)
	if len(evs) < 2 {
		t.Fatalf("500 users in %d event(s) of at most %d bytes", len(evs), limit)
	}
	total := 0
	for i, ev := range evs {
		if err := v.ValidateEvent(ev); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if n := ev.Size(); n > limit {
			t.Fatalf("event %d is %d bytes, over %d", i, n, limit)
		}
		if ev.IsEmpty() || ev.Name != event.LocalUsers || !ev.Time.Equal(now) {
			t.Fatalf("event %d: %+v", i, ev)
		}
		for _, it := range ev.Payload {
			if got, want := it.(*event.LocalUsersPayload).UserName, items[total].(*event.LocalUsersPayload).UserName; got != want {
				t.Fatalf("item %d is %s, want %s: order lost", total, got, want)
			}
			total++
		}
	}
	if total != len(items) {
		t.Fatalf("%d items out of %d", total, len(items))
	}
}

func TestSplitEmptyAndOversize(t *testing.T) {
	now := time.Now()
	evs := collector.Split(event.LocalUsers, now, nil, 4096)
	if len(evs) != 1 || !evs[0].IsEmpty() || evs[0].Name != event.LocalUsers {
		t.Fatalf("no items: %+v, want one empty snapshot", evs)
	}
	// An item larger than the bound still goes, alone.
	big := users(3, strings.Repeat("x", 5000))
	evs = collector.Split(event.LocalUsers, now, big, 4096)
	if len(evs) != 3 {
		t.Fatalf("3 oversize items in %d events, want 3", len(evs))
	}
}

// A snapshot of many accounts becomes several LocalUsers events, none
// larger than the bound.
func ExampleSplit() {
	var items []event.Item
	for i := range 100 {
		items = append(items, &event.LocalUsersPayload{UserName: fmt.Sprintf("user%03d", i), UserID: strconv.Itoa(1000 + i)})
	}
	evs := collector.Split(event.LocalUsers, time.Now(), items, 4096)
	fmt.Println(len(evs) > 1, evs[0].Size() <= 4096)
	// Output: true true
}
