package transport

import (
	"context"
	"errors"
	"time"

	"github.com/edgesec/edgesec/event"
)

// Message properties set on every security message (IoT Hub application
// and system properties).
const (
	// PropInterfaceID marks a message as a security message for IoT Hub
	// ("$.ifid").
	PropInterfaceID = "$.ifid"
	// SecurityInterfaceID is the value of PropInterfaceID.
	SecurityInterfaceID = "urn:azureiot:Security:SecurityAgent:1"
	// PropContentType is the content type system property ("$.ct").
	PropContentType = "$.ct"
	// PropContentEncoding is the content encoding system property ("$.ce").
	PropContentEncoding = "$.ce"
	// PropMessageID is the message id system property ("$.mid").
	PropMessageID = "$.mid"
)

// Message is one packed security message.
type Message struct {
	// ID is unique per message (a GUID); transports that support it send
	// it as the message id so the receiver can drop duplicates of a
	// message delivered at least once.
	ID string
	// Body is the JSON envelope. Transports must not modify it.
	Body []byte
	// Properties are the message's application and system properties.
	Properties map[string]string
	// Priority is the queue that triggered the message (High or Low).
	Priority event.Priority
	// Created is when the message was packed.
	Created time.Time
}

// NewSecurityMessage returns a Message carrying body with the properties
// of an ASC security message.
func NewSecurityMessage(body []byte, p event.Priority, now time.Time) Message {
	id := event.NewID()
	return Message{
		ID:   id,
		Body: body,
		Properties: map[string]string{
			PropInterfaceID:     SecurityInterfaceID,
			PropContentType:     "application/json",
			PropContentEncoding: "utf-8",
			PropMessageID:       id,
		},
		Priority: p,
		Created:  now,
	}
}

// Transport sends messages.
//
// Send may be called from one goroutine at a time (the engine never calls
// it concurrently); it blocks until the message is durably accepted and
// then returns nil, or returns an error. It must honour ctx.
// Close releases the transport; Send is not called after Close.
type Transport interface {
	Send(ctx context.Context, m Message) error
	Close(ctx context.Context) error
}

// ErrPermanent is matched (errors.Is) by every error wrapped with Permanent.
var ErrPermanent = errors.New("permanent transport error")

type permanentError struct{ err error }

func (e *permanentError) Error() string   { return e.err.Error() }
func (e *permanentError) Unwrap() []error { return []error{e.err, ErrPermanent} }

// Permanent marks err as permanent: sending the same message again cannot
// succeed, so the engine drops it (and counts it) instead of retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }
