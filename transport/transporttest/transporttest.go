package transporttest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/edgesec/edgesec/transport"
)

// notifier is a broadcast "something changed" signal.
type notifier struct{ ch chan struct{} }

func (n *notifier) notify() {
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

func (n *notifier) wait() <-chan struct{} {
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

// waitLocked waits, with mu held on entry and on return, until cond holds
// or ctx is done.
func waitLocked(ctx context.Context, mu *sync.Mutex, n *notifier, cond func() bool) error {
	for !cond() {
		ch := n.wait()
		mu.Unlock()
		select {
		case <-ch:
			mu.Lock()
		case <-ctx.Done():
			mu.Lock()
			return ctx.Err()
		}
	}
	return nil
}

// Recorder is a transport.Transport that accepts every message and records
// a copy of it (the body and properties are copied, so the caller may reuse
// its buffers). The zero value is ready to use; it must not be copied after
// first use.
type Recorder struct {
	// Check, when set before the first Send, is called with every message;
	// if it returns an error, Send returns that error marked with
	// transport.Permanent and does not record the message. Use it to
	// validate bodies, for example with schemas.Validator.ValidateMessage.
	Check func(m transport.Message) error

	mu      sync.Mutex
	msgs    []transport.Message
	closed  bool
	changed notifier
}

var _ transport.Transport = (*Recorder)(nil)

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{} }

// Send implements transport.Transport. It returns ctx.Err() if ctx is done,
// an error matching transport.ErrClosed after Close, and otherwise records m and returns nil.
func (r *Recorder) Send(ctx context.Context, m transport.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.Check != nil {
		if err := r.Check(m); err != nil {
			return transport.Permanent(fmt.Errorf("transporttest: message %s refused: %w", m.ID, err))
		}
	}
	m.Body = append([]byte(nil), m.Body...)
	m.Properties = maps.Clone(m.Properties)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("transporttest: recorder: %w", transport.ErrClosed)
	}
	r.msgs = append(r.msgs, m)
	r.changed.notify()
	return nil
}

// Close implements transport.Transport; it is idempotent.
func (r *Recorder) Close(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.changed.notify()
	return nil
}

// Closed reports whether Close was called.
func (r *Recorder) Closed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// Messages returns the messages recorded so far, in the order they were
// sent.
func (r *Recorder) Messages() []transport.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]transport.Message(nil), r.msgs...)
}

// Len returns the number of messages recorded so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// WaitFor waits until at least n messages have been recorded and returns
// all of them. If ctx is done first, it returns what was recorded and
// ctx.Err(); use context.WithTimeout for a deadline.
func (r *Recorder) WaitFor(ctx context.Context, n int) ([]transport.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := waitLocked(ctx, &r.mu, &r.changed, func() bool { return len(r.msgs) >= n })
	return append([]transport.Message(nil), r.msgs...), err
}

// Mode is how a [Flaky] transport misbehaves.
type Mode int

// The ways Flaky misbehaves.
const (
	// Fail makes Send return ErrFlaky, a retryable error.
	Fail Mode = iota
	// FailPermanent makes Send return ErrFlaky marked with
	// transport.Permanent.
	FailPermanent
	// Block makes Send block until its context is done (then it returns
	// ctx.Err()) or until Heal is called (then it returns ErrFlaky).
	Block
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case Fail:
		return "Fail"
	case FailPermanent:
		return "FailPermanent"
	case Block:
		return "Block"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ErrFlaky is the error a misbehaving Flaky send returns.
var ErrFlaky = errors.New("transporttest: flaky transport failed the send (deliberately)")

// Flaky is a transport.Transport that misbehaves, as its [Mode] says, for
// the first n sends, and then passes messages on to another transport.
// Create it with [NewFlaky].
type Flaky struct {
	next transport.Transport

	mu        sync.Mutex
	mode      Mode
	remaining int // sends left to misbehave; negative: all of them
	attempts  int
	failures  int
	blocked   int
	heal      chan struct{} // closed by Heal: releases blocked sends
	changed   notifier
}

var _ transport.Transport = (*Flaky)(nil)

// NewFlaky returns a transport whose first n sends misbehave as mode says
// (n < 0: every send), after which sends go to next. A nil next accepts
// every message that gets through (use a [Recorder] to see them).
func NewFlaky(next transport.Transport, mode Mode, n int) *Flaky {
	return &Flaky{next: next, mode: mode, remaining: n, heal: make(chan struct{})}
}

// Send implements transport.Transport.
func (f *Flaky) Send(ctx context.Context, m transport.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	f.attempts++
	if f.remaining == 0 {
		f.changed.notify()
		f.mu.Unlock()
		if f.next == nil {
			return nil
		}
		return f.next.Send(ctx, m)
	}
	if f.remaining > 0 {
		f.remaining--
	}
	f.failures++
	mode, heal := f.mode, f.heal
	if mode == Block {
		f.blocked++
	}
	f.changed.notify()
	f.mu.Unlock()

	switch mode {
	case FailPermanent:
		return transport.Permanent(ErrFlaky)
	case Block:
		var err error
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-heal:
			err = ErrFlaky
		}
		f.mu.Lock()
		f.blocked--
		f.changed.notify()
		f.mu.Unlock()
		return err
	default:
		return ErrFlaky
	}
}

// Close implements transport.Transport: it closes next.
func (f *Flaky) Close(ctx context.Context) error {
	if f.next == nil {
		return nil
	}
	if err := f.next.Close(ctx); err != nil {
		return fmt.Errorf("transporttest: close next transport: %w", err)
	}
	return nil
}

// Heal ends the misbehaviour: later sends go to next, and sends blocked in
// Block mode return ErrFlaky at once.
func (f *Flaky) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.remaining = 0
	if f.heal != nil {
		close(f.heal)
	}
	f.heal = make(chan struct{})
	f.changed.notify()
}

// Reset makes the next n sends misbehave as mode says (n < 0: every send),
// for example to start a second outage.
func (f *Flaky) Reset(mode Mode, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode, f.remaining = mode, n
}

// Attempts returns the number of Send calls so far.
func (f *Flaky) Attempts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts
}

// Failures returns the number of sends that misbehaved so far (blocked
// sends included).
func (f *Flaky) Failures() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failures
}

// Blocked returns the number of sends blocked right now.
func (f *Flaky) Blocked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.blocked
}

// WaitAttempts waits until Send has been called at least n times, or ctx is
// done.
func (f *Flaky) WaitAttempts(ctx context.Context, n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return waitLocked(ctx, &f.mu, &f.changed, func() bool { return f.attempts >= n })
}

// WaitBlocked waits until at least n sends are blocked, or ctx is done.
func (f *Flaky) WaitBlocked(ctx context.Context, n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return waitLocked(ctx, &f.mu, &f.changed, func() bool { return f.blocked >= n })
}
