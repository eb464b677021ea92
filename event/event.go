package event

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// SchemaVersion is the security message schema version written in every
// envelope (MessageSchemaVersion) and every event (PayloadSchemaVersion).
const SchemaVersion = "1.0"

// Category tells whether an event is a periodic snapshot or was triggered
// by something that happened.
type Category string

// The two categories allowed by the schema.
const (
	Periodic  Category = "Periodic"
	Triggered Category = "Triggered"
)

// EventType is the kind of an event: a security fact, an operational fact
// about the agent itself, or a diagnostic message from the agent.
type EventType string

// The event types allowed by the schema.
const (
	Security    EventType = "Security"
	Operational EventType = "Operational"
	Diagnostic  EventType = "Diagnostic"
)

// Priority is the queue an event name is sent through, as configured by the
// twin keys eventPriority<Name>. Off disables the event.
type Priority int

// Priorities. The zero value is Off.
const (
	Off Priority = iota
	Low
	High
)

// String returns "Off", "Low" or "High".
func (p Priority) String() string {
	switch p {
	case Off:
		return "Off"
	case Low:
		return "Low"
	case High:
		return "High"
	}
	return fmt.Sprintf("Priority(%d)", int(p))
}

// ParsePriority parses a priority name case-insensitively ("high", "Low", "OFF").
func ParsePriority(s string) (Priority, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "off":
		return Off, nil
	case "low":
		return Low, nil
	case "high":
		return High, nil
	}
	return Off, fmt.Errorf("event: unknown priority %q (want Off, Low or High)", s)
}

// Item is one element of an event payload. Every payload type of this
// package implements it; a vendor's collector may use [Object] or its own
// type.
//
// AppendJSON appends the item's JSON object encoding to dst and returns the
// extended slice. It must produce valid JSON and must not retain dst.
type Item interface {
	AppendJSON(dst []byte) []byte
}

// Event is one security, operational or diagnostic event.
//
// A Periodic event with no payload items is an empty snapshot: it is encoded
// with "IsEmpty": true and an empty payload. A Triggered event always has at
// least one item.
type Event struct {
	// ID is the event's GUID (36 characters). New fills it.
	ID string
	// Time is when the event happened (or the snapshot was taken). It is
	// encoded twice: TimestampLocal with the local offset and TimestampUTC.
	Time time.Time
	// Name is the event name, for example "ProcessCreate".
	Name string
	// Category is Periodic or Triggered.
	Category Category
	// Type is the EventType: Security, Operational or Diagnostic.
	Type EventType
	// Payload holds the event's items, all of the payload type of Name.
	Payload []Item
}

// IsEmpty reports whether the event carries no payload item.
func (e *Event) IsEmpty() bool { return len(e.Payload) == 0 }

// New returns an event of a catalogued name with a fresh ID, the category
// and type of the catalogue, the given time and payload. For a name not in
// the catalogue it returns an error; use [NewCustom] for vendor events.
func New(name string, t time.Time, items ...Item) (Event, error) {
	info, ok := Lookup(name)
	if !ok {
		return Event{}, fmt.Errorf("event: %q is not in the catalogue", name)
	}
	return Event{ID: NewID(), Time: t, Name: name, Category: info.Category, Type: info.Type, Payload: items}, nil
}

// Must is like [New] for names known at compile time: it returns the event
// for a catalogued name and an event with an empty Name (which validation
// rejects) otherwise. It never panics.
func Must(name string, t time.Time, items ...Item) Event {
	ev, _ := New(name, t, items...)
	return ev
}

// NewCustom returns an event for a name outside the catalogue, such as a
// vendor's own collector. Category and type are the caller's.
func NewCustom(name string, c Category, typ EventType, t time.Time, items ...Item) Event {
	return Event{ID: NewID(), Time: t, Name: name, Category: c, Type: typ, Payload: items}
}

// NewID returns a random (version 4) GUID in its 36-character form.
//
// The bits come from the runtime's generator (math/rand/v2: ChaCha8,
// seeded from the operating system's entropy): an event ID must be unique,
// not secret, and this keeps the cryptographic generator's code off the
// path every event takes (its pages would stay resident).
func NewID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:16], rand.Uint64())
	return FormatID(b)
}

// FormatID formats 16 bytes as a version 4, variant 1 GUID.
func FormatID(b [16]byte) string {
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// ValidID reports whether s has the 8-4-4-4-12 hexadecimal GUID form.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// Timestamp layouts: RFC 3339 with milliseconds.
const (
	localLayout = "2006-01-02T15:04:05.000Z07:00"
	utcLayout   = "2006-01-02T15:04:05.000Z"
)

// FormatLocal formats t as RFC 3339 in local time with its offset, the form
// of TimestampLocal.
func FormatLocal(t time.Time) string { return t.Local().Format(localLayout) }

// FormatUTC formats t as RFC 3339 in UTC with a "Z" suffix, the form of
// TimestampUTC.
func FormatUTC(t time.Time) string { return t.UTC().Format(utcLayout) }
