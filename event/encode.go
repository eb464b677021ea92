package event

// AppendJSON appends the event's JSON encoding, exactly as the schema wants
// it, to dst.
func (e *Event) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.str("Id", e.ID)
	w.key("TimestampLocal")
	w.b = append(w.b, '"')
	w.b = AppendLocal(w.b, e.Time)
	w.b = append(w.b, '"')
	w.key("TimestampUTC")
	w.b = append(w.b, '"')
	w.b = AppendUTC(w.b, e.Time)
	w.b = append(w.b, '"')
	w.str("Category", string(e.Category))
	w.str("Name", e.Name)
	w.str("EventType", string(e.Type))
	w.bool("IsEmpty", len(e.Payload) == 0)
	w.str("PayloadSchemaVersion", SchemaVersion)
	w.key("Payload")
	w.b = append(w.b, '[')
	for i, it := range e.Payload {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = it.AppendJSON(w.b)
	}
	w.b = append(w.b, ']')
	return w.end()
}

// MarshalJSON implements json.Marshaler with [Event.AppendJSON].
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

// Size returns the number of bytes of the event's JSON encoding.
func (e *Event) Size() int { return len(e.AppendJSON(nil)) }

// Envelope is one security message: the agent's identity and its events.
type Envelope struct {
	AgentVersion string
	AgentID      string // GUID, stable per installation (see LoadOrCreateAgentID)
	Events       []Event
}

// AppendJSON appends the message's JSON encoding to dst.
func (m *Envelope) AppendJSON(dst []byte) []byte {
	dst = AppendMessageStart(dst, m.AgentVersion, m.AgentID)
	for i := range m.Events {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = m.Events[i].AppendJSON(dst)
	}
	return AppendMessageEnd(dst)
}

// MarshalJSON implements json.Marshaler.
func (m Envelope) MarshalJSON() ([]byte, error) { return m.AppendJSON(nil), nil }

// AppendMessageStart appends the start of a message envelope, up to and
// including the opening bracket of the Events array. A packer writes
// AppendMessageStart, the events' encodings separated by commas, then
// AppendMessageEnd; the message size is exactly
// MessageOverhead + sum(event sizes) + (number of events - 1).
func AppendMessageStart(dst []byte, agentVersion, agentID string) []byte {
	w := beginObject(dst)
	w.str("AgentVersion", agentVersion)
	w.str("AgentId", agentID)
	w.str("MessageSchemaVersion", SchemaVersion)
	w.key("Events")
	return append(w.b, '[')
}

// AppendMessageEnd closes what AppendMessageStart opened.
func AppendMessageEnd(dst []byte) []byte { return append(dst, ']', '}') }

// MessageOverhead returns the bytes an envelope adds around its events.
func MessageOverhead(agentVersion, agentID string) int {
	return len(AppendMessageEnd(AppendMessageStart(nil, agentVersion, agentID)))
}

// MessageSize returns the exact size of a message whose events encode to
// the given total number of bytes.
func MessageSize(overhead, eventBytes, events int) int {
	if events == 0 {
		return overhead
	}
	return overhead + eventBytes + events - 1
}
