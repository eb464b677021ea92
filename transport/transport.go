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
// then returns nil, or returns an error. It must honour ctx, and must not
// modify the message. Errors say whether trying again can help: see
// [Permanent] and [RetryAfter]; anything else is retried with backoff.
//
// Close releases the transport and stops its goroutines within ctx. It is
// idempotent; a Send after Close returns an error matching [ErrClosed].
type Transport interface {
	Send(ctx context.Context, m Message) error
	Close(ctx context.Context) error
}

// ErrClosed is matched (errors.Is) by the error Send returns after Close.
// Every transport in this module returns it, or an error wrapping it.
var ErrClosed = errors.New("transport closed")

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

type retryAfterError struct {
	err   error
	delay time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter marks err as retryable after at least d: the other side asked
// the sender to slow down (IoT Hub throttling, an MQTT broker's quota, an
// HTTP 429 with Retry-After). The outbox waits d (or its own backoff, if
// longer) before the next attempt. A nil err returns nil; d <= 0 leaves err
// an ordinary retryable error.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	if d <= 0 {
		return err
	}
	return &retryAfterError{err: err, delay: d}
}

// RetryDelay returns the delay err (or an error it wraps) asks for with
// [RetryAfter], and whether it asks for one. A permanent error never asks
// for one.
func RetryDelay(err error) (time.Duration, bool) {
	if IsPermanent(err) {
		return 0, false
	}
	var r *retryAfterError
	if errors.As(err, &r) {
		return r.delay, true
	}
	return 0, false
}
