package transporttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/subtest"
	"github.com/edgesec/edgesec/transport"
)

// Bounds of the conformance checks.
const (
	// SendTimeout is the deadline of the Send the suite makes while the
	// peer hangs; Send must return within SendTimeout + Slack.
	SendTimeout = 300 * time.Millisecond
	// CloseTimeout is the deadline given to Close; it must return within
	// CloseTimeout + Slack.
	CloseTimeout = 2 * time.Second
	// Slack is what the suite adds to every bound, for a loaded machine.
	Slack = 3 * time.Second
	// LeakWait is how long the suite waits for the goroutines a transport
	// started to end after Close returned.
	LeakWait = 10 * time.Second
)

// Config describes the transport under test and its peer for [Run].
type Config struct {
	// New returns a new transport connected to the peer. It is called once
	// per check; the suite closes what it returns. Required.
	New func(t *testing.T) transport.Transport
	// Delivered, when set, returns the bodies the peer has received so
	// far, in order. The suite waits (up to Slack) for a body to appear:
	// a peer observed indirectly, like an MQTT subscriber, may lag behind
	// the acknowledgement. Nil skips the delivery checks.
	Delivered func(t *testing.T) [][]byte
	// Hang, when set, makes the peer stop answering (connections stay
	// open, nothing comes back; see [Proxy]) until resume is called. Nil
	// skips the checks of a hanging peer.
	Hang func(t *testing.T) (resume func())
	// TooLarge is a body size the transport declares it cannot carry: a
	// message with a body of TooLarge bytes must be refused with a
	// permanent error. Zero means the transport declares no maximum.
	TooLarge int
	// LeakOptions are goleak options for goroutines that belong to the
	// peer (an embedded broker), not to the transport. The [Proxy]'s are
	// ignored already.
	LeakOptions []goleak.Option
}

// Run checks that the transports cfg.New returns behave as a
// transport.Transport must:
//
//   - Deliver: Send returns nil for valid messages, the peer receives
//     each body exactly as sent, and Send does not modify the message
//     (body bytes and properties);
//   - HangingPeer: while the peer hangs, Send returns an error that is not
//     permanent within its context's deadline, and Close returns within
//     its own;
//   - SendAfterClose: after Close, Send returns an error matching
//     transport.ErrClosed promptly, and a second Close returns nil
//     promptly (Close is idempotent);
//   - Oversize: a body of cfg.TooLarge bytes is refused with a permanent
//     error and never delivered;
//
// and, after each check, that no goroutine the transport started is left
// once Close returned. Failures are reported in named sub-tests.
//
// Run must not be called from a parallel test (the leak check looks at
// every goroutine of the process).
func Run(t *testing.T, cfg Config) {
	t.Helper()
	run(subtest.Testing(t), cfg, bounds{send: SendTimeout, close: CloseTimeout, slack: Slack, leak: LeakWait})
}

// bounds are the suite's time limits; this package's own tests shorten them.
type bounds struct{ send, close, slack, leak time.Duration }

// reporter is where the checks report: the sub-test's testing.T, or the
// recorder of this package's own tests (internal/subtest).
type reporter = subtest.Reporter

func run(s subtest.Suite, cfg Config, b bounds) {
	s.Helper()
	if cfg.New == nil {
		s.Errorf("transporttest: Config.New is nil")
		return
	}
	c := checker{cfg: cfg, b: b}
	s.Run("Deliver", c.deliver)
	s.Run("HangingPeer", c.hangingPeer)
	s.Run("SendAfterClose", c.sendAfterClose)
	s.Run("Oversize", c.oversize)
}

type checker struct {
	cfg Config
	b   bounds
}

// open returns a new transport and a function that closes it (if the
// check did not) and checks for leaked goroutines.
func (c checker) open(t *testing.T, r reporter) (transport.Transport, func(closed bool)) {
	r.Helper()
	ignore := goleak.IgnoreCurrent()
	tr := c.cfg.New(t)
	return tr, func(closed bool) {
		r.Helper()
		if tr == nil {
			return
		}
		if !closed {
			ctx, cancel := context.WithTimeout(context.Background(), c.b.close)
			if err := tr.Close(ctx); err != nil {
				r.Logf("Close: %v", err)
			}
			cancel()
		}
		c.checkLeaks(r, ignore)
	}
}

func (c checker) checkLeaks(r reporter, ignore goleak.Option) {
	r.Helper()
	opts := append([]goleak.Option{ignore,
		goleak.IgnoreAnyFunction("github.com/edgesec/edgesec/transport/transporttest.(*Proxy).pipe"),
		goleak.IgnoreAnyFunction("github.com/edgesec/edgesec/transport/transporttest.(*Proxy).accept")}, c.cfg.LeakOptions...)
	deadline := time.Now().Add(c.b.leak)
	for {
		err := goleak.Find(opts...)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.Errorf("goroutines started by the transport are still running %v after Close returned: %v", c.b.leak, err)
			return
		}
	}
}

// message returns a valid JSON message with a body of about size bytes
// (at least 32) that names i.
func message(i, size int) transport.Message {
	body := fmt.Appendf(nil, `{"transporttest":%d,"pad":"`, i)
	body = append(body, strings.Repeat("x", max(size-len(body)-2, 0))...)
	body = append(body, `"}`...)
	return transport.NewSecurityMessage(body, event.Low, time.Now())
}

// waitDelivered waits for body to appear among the peer's messages.
func (c checker) waitDelivered(t *testing.T, body []byte) bool {
	deadline := time.Now().Add(c.b.slack)
	for {
		for _, b := range c.cfg.Delivered(t) {
			if bytes.Equal(b, body) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c checker) deliver(t *testing.T, r reporter) {
	r.Helper()
	tr, done := c.open(t, r)
	if tr == nil {
		r.Errorf("New returned nil")
		return
	}
	defer done(false)
	for i, size := range []int{40, 3000, 70000} {
		if c.cfg.TooLarge > 0 {
			size = min(size, c.cfg.TooLarge/2)
		}
		m := message(i, size)
		body, props := bytes.Clone(m.Body), maps.Clone(m.Properties)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second+c.b.slack)
		err := tr.Send(ctx, m)
		cancel()
		if err != nil {
			r.Errorf("Send of a valid %d-byte message: %v", size, err)
			return
		}
		if !bytes.Equal(m.Body, body) || !maps.Equal(m.Properties, props) {
			r.Errorf("Send modified the message (%d-byte body): the body or properties differ after Send", size)
		}
		if c.cfg.Delivered != nil && !c.waitDelivered(t, body) {
			r.Errorf("the peer did not receive the %d-byte body Send returned nil for (or received it altered)", size)
		}
	}
}

func (c checker) hangingPeer(t *testing.T, r reporter) {
	r.Helper()
	if c.cfg.Hang == nil {
		r.Logf("skipped: Config.Hang is nil")
		return
	}
	tr, done := c.open(t, r)
	if tr == nil {
		r.Errorf("New returned nil")
		return
	}
	closed := false
	defer func() { done(closed) }()
	// Connected first, so the hang is of a live peer.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second+c.b.slack)
	err := tr.Send(ctx, message(0, 40))
	cancel()
	if err != nil {
		r.Errorf("Send before the peer hangs: %v", err)
		return
	}
	resume := c.cfg.Hang(t)
	defer resume()

	ctx, cancel = context.WithTimeout(context.Background(), c.b.send)
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- tr.Send(ctx, message(1, 40)) }()
	sendReturned := false
	select {
	case err = <-errc:
		sendReturned = true
		took := time.Since(start)
		switch {
		case err == nil:
			r.Errorf("Send returned nil while the peer hangs: the message cannot have been accepted")
		case transport.IsPermanent(err):
			r.Errorf("Send while the peer hangs returned a permanent error (the message would be dropped): %v", err)
		case took > c.b.send+c.b.slack:
			r.Errorf("Send while the peer hangs returned after %v, its context's deadline was %v", took.Round(time.Millisecond), c.b.send)
		}
	case <-time.After(c.b.send + c.b.slack):
		r.Errorf("Send while the peer hangs did not return within %v of its context's deadline (%v)", c.b.slack, c.b.send)
	}
	cancel()

	cctx, ccancel := context.WithTimeout(context.Background(), c.b.close)
	defer ccancel()
	closeErr := make(chan error, 1)
	go func() { closeErr <- tr.Close(cctx) }()
	select {
	case <-closeErr:
		closed = true
	case <-time.After(c.b.close + c.b.slack):
		r.Errorf("Close while the peer hangs did not return within %v of its context's deadline (%v)", c.b.slack, c.b.close)
		resume()
		<-closeErr
		closed = true
	}
	resume()
	if !sendReturned {
		<-errc // reported above; it returns once the peer answers again
	}
}

func (c checker) sendAfterClose(t *testing.T, r reporter) {
	r.Helper()
	tr, done := c.open(t, r)
	if tr == nil {
		r.Errorf("New returned nil")
		return
	}
	defer done(true)
	bounded := func(what string, f func(ctx context.Context) error) error {
		ctx, cancel := context.WithTimeout(context.Background(), c.b.close)
		defer cancel()
		errc := make(chan error, 1)
		go func() { errc <- f(ctx) }()
		select {
		case err := <-errc:
			return err
		case <-time.After(c.b.close + c.b.slack):
			r.Errorf("%s did not return within %v of its context's deadline (%v)", what, c.b.slack, c.b.close)
			return <-errc
		}
	}
	if err := bounded("Close", tr.Close); err != nil {
		r.Logf("Close: %v", err)
	}
	err := bounded("Send after Close", func(ctx context.Context) error { return tr.Send(ctx, message(0, 40)) })
	if !errors.Is(err, transport.ErrClosed) {
		r.Errorf("Send after Close returned %v, want an error matching transport.ErrClosed", err)
	}
	if err := bounded("a second Close", tr.Close); err != nil {
		r.Errorf("a second Close returned %v, want nil (Close is idempotent)", err)
	}
}

func (c checker) oversize(t *testing.T, r reporter) {
	r.Helper()
	if c.cfg.TooLarge <= 0 {
		r.Logf("skipped: Config.TooLarge is 0 (no declared maximum)")
		return
	}
	tr, done := c.open(t, r)
	if tr == nil {
		r.Errorf("New returned nil")
		return
	}
	defer done(false)
	m := message(0, c.cfg.TooLarge)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second+c.b.slack)
	err := tr.Send(ctx, m)
	cancel()
	if !transport.IsPermanent(err) {
		r.Errorf("Send of a %d-byte body (Config.TooLarge) returned %v, want a permanent error", len(m.Body), err)
	}
	if c.cfg.Delivered != nil {
		for _, b := range c.cfg.Delivered(t) {
			if bytes.Equal(b, m.Body) {
				r.Errorf("the oversize message was delivered")
			}
		}
	}
}
