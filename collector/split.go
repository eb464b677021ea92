package collector

import (
	"time"

	"github.com/edgesec/edgesec/event"
)

// Split packs the items of one periodic snapshot into events named name
// (a catalogued event name) of at most maxBytes serialized bytes each, in
// order, so that a large snapshot (hundreds of users, a long firewall
// ruleset) never yields an event the packer cannot fit in a message. An
// item larger than maxBytes gets an event of its own. No items gives one
// empty snapshot event (IsEmpty), which tells the hub the snapshot found
// nothing.
func Split(name string, t time.Time, items []event.Item, maxBytes int) []event.Event {
	empty := event.Must(name, t)
	if len(items) == 0 {
		return []event.Event{empty}
	}
	overhead := empty.Size()
	var evs []event.Event
	var cur []event.Item
	size := overhead
	var buf []byte
	for _, it := range items {
		buf = it.AppendJSON(buf[:0])
		n := len(buf) + 1 // the comma
		if len(cur) > 0 && size+n > maxBytes {
			evs = append(evs, event.Must(name, t, cur...))
			cur, size = nil, overhead
		}
		cur = append(cur, it)
		size += n
	}
	return append(evs, event.Must(name, t, cur...))
}
