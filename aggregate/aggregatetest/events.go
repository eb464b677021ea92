package aggregatetest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/edgesec/edgesec/aggregate"
	"github.com/edgesec/edgesec/event"
)

// kind is a kind of event the suite adds.
type kind int

const (
	kProc       kind = iota // ProcessCreate with a unique command line (Low)
	kProcRepeat             // ProcessCreate of one recurring identity (Low; aggregated when on)
	kConn                   // ConnectionCreate to a unique port (Low)
	kHigh                   // LocalUsers (High)
	kLow                    // FirewallConfiguration (Low)
	kOp                     // ConfigurationError (Operational)
	kDiag                   // Diagnostic (Off by default)
	kSysinfo                // SystemInformation (Off in the suite's configured settings)
	numKinds
)

// outcome of one added event in the ledger.
const (
	qOff = -1 // priority Off: must never be sent nor counted
)

// ledger gives every event the suite adds an Id it can trace back, and
// counts how often each was delivered. Ids are GUIDs whose first 24
// characters are a per-ledger prefix and whose last 12 are the event's
// index, so nothing per event is kept but the expected queue and the
// delivery count (the flood check measures the heap and must not be
// measuring its own bookkeeping).
type ledger struct {
	prefix string
	nonce  [6]byte
	queue  []int8  // expected queue (aggregate.Queue*), or qOff
	hits   []int32 // raw events delivered for the event (HitCount of an aggregate)
	clock  func() time.Time
	prio   func(string) event.Priority
}

func newLedger(capacity int, clock func() time.Time, prio func(string) event.Priority) *ledger {
	l := &ledger{queue: make([]int8, 0, capacity), hits: make([]int32, 0, capacity), clock: clock, prio: prio}
	_, _ = rand.Read(l.nonce[:])
	l.prefix = l.id(0)[:24]
	return l
}

func (l *ledger) id(i int) string {
	var b [16]byte
	copy(b[:6], l.nonce[:])
	for k := 0; k < 6; k++ {
		b[15-k] = byte(i >> (8 * k))
	}
	return event.FormatID(b)
}

// index returns the ledger index of an Id, or -1 if the suite did not
// make it.
func (l *ledger) index(id string) int {
	if len(id) != 36 || !strings.HasPrefix(id, l.prefix) {
		return -1
	}
	n, err := strconv.ParseUint(id[24:], 16, 64)
	if err != nil || n >= uint64(len(l.queue)) {
		return -1
	}
	return int(n)
}

// expectedQueue is the queue an event goes to by the aggregator contract.
func (l *ledger) expectedQueue(ev *event.Event) int8 {
	pr := l.prio(ev.Name)
	switch {
	case pr == event.Off:
		return qOff
	case ev.Type == event.Operational:
		return aggregate.QueueOperational
	case pr == event.High:
		return aggregate.QueueHigh
	}
	return aggregate.QueueLow
}

// padding returns a string of n bytes.
func padding(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("abcdefghijklmnopqrstuvwxyz", n/26+1)[:n]
}

// make returns a new event of kind k with about pad bytes of padding in
// its ExtraDetails, records it, and returns it with its ledger index.
func (l *ledger) make(k kind, pad int) (event.Event, int) {
	i := len(l.queue)
	now := l.clock()
	x := event.ExtraDetails{"Seq": strconv.Itoa(i)}
	if pad > 0 {
		x["Pad"] = padding(pad)
	}
	var ev event.Event
	switch k {
	case kProc:
		ev = event.Must(event.ProcessCreate, now, &event.ProcessCreatePayload{
			Executable: "/usr/bin/worker", CommandLine: "worker --job " + strconv.Itoa(i), UserID: "1000", UserName: "edge",
			ProcessID: 1000 + i%30000, ParentProcessID: 1, ExtraDetails: x,
		})
	case kProcRepeat:
		ev = event.Must(event.ProcessCreate, now, &event.ProcessCreatePayload{
			Executable: "/usr/bin/poll", CommandLine: "/usr/bin/poll --interval 5", UserID: "0", UserName: "root",
			ProcessID: 1000 + i%30000, ParentProcessID: 1,
			// The same ExtraDetails keys for every hit: aggregation keeps the first hit's.
			ExtraDetails: event.ExtraDetails{"ContainerId": fmt.Sprintf("%064x", 7)},
		})
	case kConn:
		ev = event.Must(event.ConnectionCreate, now, &event.ConnectionCreatePayload{
			RemoteAddress: "10.1.2.3", RemotePort: strconv.Itoa(1024 + i%60000), LocalAddress: "10.0.0.5", LocalPort: strconv.Itoa(20000 + i%40000),
			Direction: event.DirectionOut, Protocol: "TCP", ProcessID: 1000 + i%30000, UserID: "0", Executable: "/usr/bin/client",
			CommandLine: "client --id " + strconv.Itoa(i), ExtraDetails: x,
		})
	case kHigh:
		ev = event.Must(event.LocalUsers, now, &event.LocalUsersPayload{
			UserName: "user" + strconv.Itoa(i), UserID: strconv.Itoa(1000 + i), GroupIDs: "100", GroupNames: "users", ExtraDetails: x,
		})
	case kLow:
		ev = event.Must(event.FirewallConfiguration, now, &event.FirewallRulePayload{
			Priority: i, Enabled: true, Action: event.ActionAllow, ChainName: "INPUT", ExtraDetails: x,
		})
	case kOp:
		ev = event.Must(event.ConfigurationError, now, &event.ConfigurationErrorPayload{
			ConfigurationName: "maxMessageSizeInBytes", ErrorType: event.NotOptimal, UsedConfiguration: "204800",
			Message: "test " + strconv.Itoa(i), ExtraDetails: x,
		})
	case kDiag:
		ev = event.Must(event.DiagnosticEvent, now, &event.DiagnosticPayload{
			Severity: event.DiagWarning, Message: "diagnostic " + strconv.Itoa(i), ProcessID: 1, ThreadID: 1, ExtraDetails: x,
		})
	case kSysinfo:
		ev = event.Must(event.SystemInformation, now, &event.SystemInformationPayload{
			OSName: "Linux", OSVersion: "6.18", OSVendor: "test", OSArchitecture: "x86_64", HostName: "host" + strconv.Itoa(i),
			BIOSVersion: "1", BootDevice: "/dev/sda1", TotalPhysicalMemoryInKB: 1 << 20, FreePhysicalMemoryInKB: 1 << 19,
			TotalVirtualMemoryInKB: 1 << 21, FreeVirtualMemoryInKB: 1 << 20, ExtraDetails: x,
		})
	}
	ev.ID = l.id(i)
	l.queue = append(l.queue, l.expectedQueue(&ev))
	l.hits = append(l.hits, 0)
	return ev, i
}

// message is the part of a message body the suite reads.
type message struct {
	AgentVersion         string
	AgentID              string `json:"AgentId"`
	MessageSchemaVersion string
	Events               []struct {
		ID      string `json:"Id"`
		Name    string
		Payload []struct {
			ExtraDetails map[string]any
		}
	}
}

// hitCount returns how many added events a sent event stands for: the sum
// of the HitCount of its aggregated items, or 1.
func hitCount(items []struct{ ExtraDetails map[string]any }) (int64, error) {
	var n int64
	found := false
	for _, it := range items {
		v, ok := it.ExtraDetails[aggregate.ExtraHitCount]
		if !ok {
			continue
		}
		found = true
		var h int64
		var err error
		switch x := v.(type) {
		case string:
			h, err = strconv.ParseInt(x, 10, 64)
		case float64:
			h = int64(x)
		default:
			err = fmt.Errorf("HitCount %v is neither a string nor a number", v)
		}
		if err != nil || h < 1 {
			return 0, fmt.Errorf("bad HitCount %v: %v", v, err)
		}
		n += h
	}
	if !found {
		return 1, nil
	}
	return n, nil
}

// decodeBody reads a body's envelope.
func decodeBody(body []byte) (message, error) {
	var m message
	if !json.Valid(body) {
		return m, fmt.Errorf("body is not valid JSON: %.200s", body)
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return m, fmt.Errorf("body is not a message envelope: %w", err)
	}
	return m, nil
}
