package transport_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/transport"
)

// A transport tells the engine whether retrying can help: errors wrapped
// with Permanent drop the message, others are retried with backoff.
func ExamplePermanent() {
	tooBig := transport.Permanent(errors.New("packet exceeds 256 KiB"))
	brokerDown := errors.New("connection refused")
	fmt.Println(transport.IsPermanent(tooBig), transport.IsPermanent(brokerDown))
	fmt.Println(transport.IsPermanent(fmt.Errorf("send: %w", tooBig)))
	// Output:
	// true false
	// true
}

// NewSecurityMessage sets the properties IoT Hub uses to route a message
// to the security pipeline.
func ExampleNewSecurityMessage() {
	m := transport.NewSecurityMessage([]byte(`{}`), event.High, time.Now())
	fmt.Println(m.Properties[transport.PropInterfaceID])
	fmt.Println(m.Properties[transport.PropContentType], m.Properties[transport.PropContentEncoding])
	fmt.Println(m.Properties[transport.PropMessageID] == m.ID, event.ValidID(m.ID))
	// Output:
	// urn:azureiot:Security:SecurityAgent:1
	// application/json utf-8
	// true true
}

// A throttled send asks the outbox to wait before the next attempt.
func ExampleRetryAfter() {
	throttled := transport.RetryAfter(errors.New("hub throttled the device (429)"), 30*time.Second)
	d, ok := transport.RetryDelay(fmt.Errorf("send: %w", throttled))
	fmt.Println(d, ok, transport.IsPermanent(throttled))
	// Output:
	// 30s true false
}
