package iothub

import (
	"fmt"
	"sort"
	"strings"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/transport"
)

// MaxPacketSize is the largest MQTT packet IoT Hub and edgeHub accept:
// 256 KiB, fixed header, topic (with the property bag) and payload
// included.
const MaxPacketSize = 256 * 1024

// PropMessagePriority is the application property that carries the
// message's priority queue ("High" or "Low").
const PropMessagePriority = "MessagePriority"

// systemProps are IoT Hub system properties, written in this order with
// their names unencoded.
var systemProps = []string{"$.mid", "$.cid", "$.uid", "$.to", "$.exp", "$.ct", "$.ce", "$.ifid", "$.cdid", "$.cmid"}

// PropertyBag encodes properties the way IoT Hub reads them from a
// telemetry topic: name=value pairs joined by '&', every name and value
// percent-encoded per RFC 3986 (a space is %20, never '+'), except the
// names of system properties ("$.mid", "$.ct", …), which are written as
// is. System properties come first, then application properties sorted by
// name, so the encoding is deterministic.
func PropertyBag(props map[string]string) string {
	var b strings.Builder
	sep := func() {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
	}
	sys := make(map[string]bool, len(systemProps))
	for _, k := range systemProps {
		sys[k] = true
		if v, ok := props[k]; ok {
			sep()
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(Escape(v))
		}
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		if !sys[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		sep()
		b.WriteString(Escape(k))
		b.WriteByte('=')
		b.WriteString(Escape(props[k]))
	}
	return b.String()
}

// Escape percent-encodes s per RFC 3986: every byte except the unreserved
// characters A–Z a–z 0–9 - . _ ~ becomes %XX (upper-case hex).
func Escape(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// PacketSize returns the size of the MQTT 3.1.1 PUBLISH packet that
// carries payloadLen bytes on topic at qos: fixed header, topic, packet id
// (QoS > 0) and payload.
func PacketSize(topic string, payloadLen int, qos byte) int {
	remaining := 2 + len(topic) + payloadLen
	if qos > 0 {
		remaining += 2
	}
	lenBytes := 1
	for r := remaining; r >= 128; r >>= 7 {
		lenBytes++
	}
	return 1 + lenBytes + remaining
}

// messageProperties returns m's properties for the wire: the security
// message properties the engine set, plus $.mid from m.ID and
// MessagePriority when missing.
func messageProperties(m transport.Message) map[string]string {
	props := make(map[string]string, len(m.Properties)+2)
	for k, v := range m.Properties {
		props[k] = v
	}
	if _, ok := props[transport.PropMessageID]; !ok && m.ID != "" {
		props[transport.PropMessageID] = m.ID
	}
	if _, ok := props[PropMessagePriority]; !ok && (m.Priority == event.High || m.Priority == event.Low) {
		props[PropMessagePriority] = m.Priority.String()
	}
	return props
}

// telemetryTopic returns the topic of m for a module: the events topic
// and its property bag.
func telemetryTopic(device, module string, m transport.Message) string {
	return fmt.Sprintf("devices/%s/modules/%s/messages/events/%s", device, module, PropertyBag(messageProperties(m)))
}
