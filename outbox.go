package edgesec

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/edgesec/edgesec/transport"
)

// outbox holds packed messages until the transport accepts them. It is
// bounded in bytes: when full, the oldest messages are dropped and
// counted. A message leaves the outbox only when Send returned nil or a
// permanent error.
type outbox struct {
	t      transport.Transport
	log    *slog.Logger
	record func(size int, err error)

	mu      sync.Mutex
	queue   []transport.Message
	bytes   int
	limit   int
	dropped int64
	wake    chan struct{}
	idle    chan struct{} // closed and replaced when the queue empties
}

func newOutbox(t transport.Transport, log *slog.Logger, limit int, record func(int, error)) *outbox {
	return &outbox{t: t, log: log, limit: limit, record: record, wake: make(chan struct{}, 1), idle: make(chan struct{})}
}

func (o *outbox) setLimit(n int) {
	o.mu.Lock()
	o.limit = n
	o.trim()
	o.mu.Unlock()
}

// trim drops the oldest messages beyond the limit, keeping at least one.
// Callers hold o.mu.
func (o *outbox) trim() {
	for o.bytes > o.limit && len(o.queue) > 1 {
		o.bytes -= len(o.queue[0].Body)
		o.queue = o.queue[1:]
		o.dropped++
		o.log.Warn("outbox full: dropped the oldest message", "dropped_total", o.dropped)
	}
}

func (o *outbox) push(msgs ...transport.Message) {
	if len(msgs) == 0 {
		return
	}
	o.mu.Lock()
	for _, m := range msgs {
		o.queue = append(o.queue, m)
		o.bytes += len(m.Body)
	}
	o.trim()
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) front() (transport.Message, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.queue) == 0 {
		return transport.Message{}, false
	}
	return o.queue[0], true
}

// pop removes m if it is still at the front (it may have been dropped by
// trim meanwhile).
func (o *outbox) pop(m transport.Message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.queue) > 0 && o.queue[0].ID == m.ID {
		o.bytes -= len(m.Body)
		o.queue[0] = transport.Message{}
		o.queue = o.queue[1:]
	}
	if len(o.queue) == 0 {
		close(o.idle)
		o.idle = make(chan struct{})
	}
}

func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.queue)
}

// run sends messages in order until ctx is cancelled, retrying retryable
// errors with backoff and jitter.
func (o *outbox) run(ctx context.Context) {
	b := backoff{min: 500 * time.Millisecond, max: 2 * time.Minute}
	for {
		m, ok := o.front()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-o.wake:
				continue
			}
		}
		err := o.t.Send(ctx, m)
		if ctx.Err() != nil {
			return
		}
		o.record(len(m.Body), err)
		switch {
		case err == nil:
			b.reset()
			o.pop(m)
		case transport.IsPermanent(err):
			o.log.Error("message rejected permanently; dropped", "id", m.ID, "bytes", len(m.Body), "err", err)
			o.pop(m)
		default:
			d := b.next()
			o.log.Warn("send failed; will retry", "err", err, "retry_in", d.Round(time.Millisecond), "queued", o.len())
			if !sleep(ctx, d) {
				return
			}
		}
	}
}

// drain waits until the outbox is empty or ctx is done and returns the
// number of messages left.
func (o *outbox) drain(ctx context.Context) int {
	for {
		o.mu.Lock()
		n, idle := len(o.queue), o.idle
		o.mu.Unlock()
		if n == 0 {
			return 0
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return o.len()
		}
	}
}
