package edgesec

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/edgesec/edgesec/internal/backoff"
	"github.com/edgesec/edgesec/internal/spool"
	"github.com/edgesec/edgesec/transport"
)

// store keeps packed messages, oldest first, until the transport accepts
// them. Implementations are safe for concurrent use.
type store interface {
	append(msgs []transport.Message) error
	// oldest returns the oldest message and its sequence number.
	oldest() (seq uint64, m transport.Message, ok bool, err error)
	// remove deletes seq; a seq already dropped is not an error.
	remove(seq uint64) error
	setLimit(bytes int64) error
	// stats returns the messages held and the total dropped to stay
	// within the limit.
	stats() (messages int, dropped int64)
	close() error
}

// memStore is the in-memory store used when no spool path is configured.
// It is bounded in bytes and drops the oldest messages beyond it (always
// keeping the newest).
type memStore struct {
	mu      sync.Mutex
	next    uint64
	seqs    []uint64
	msgs    []transport.Message
	bytes   int64
	limit   int64
	dropped int64
}

func (s *memStore) append(msgs []transport.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		s.next++
		s.seqs = append(s.seqs, s.next)
		s.msgs = append(s.msgs, m)
		s.bytes += int64(len(m.Body))
	}
	s.trim()
	return nil
}

func (s *memStore) trim() {
	for s.bytes > s.limit && len(s.msgs) > 1 {
		s.bytes -= int64(len(s.msgs[0].Body))
		s.msgs[0] = transport.Message{}
		s.msgs, s.seqs = s.msgs[1:], s.seqs[1:]
		s.dropped++
	}
}

func (s *memStore) oldest() (uint64, transport.Message, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) == 0 {
		return 0, transport.Message{}, false, nil
	}
	return s.seqs[0], s.msgs[0], true, nil
}

func (s *memStore) remove(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seqs) > 0 && s.seqs[0] == seq {
		s.bytes -= int64(len(s.msgs[0].Body))
		s.msgs[0] = transport.Message{}
		s.msgs, s.seqs = s.msgs[1:], s.seqs[1:]
	}
	return nil
}

func (s *memStore) setLimit(n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = n
	s.trim()
	return nil
}

func (s *memStore) stats() (int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs), s.dropped
}

func (s *memStore) close() error { return nil }

// spoolStore adapts the durable spool.
type spoolStore struct{ s *spool.Spool }

func (d spoolStore) append(msgs []transport.Message) error { return d.s.Append(msgs...) }

func (d spoolStore) oldest() (uint64, transport.Message, bool, error) {
	e, ok, err := d.s.Oldest()
	return e.Seq, e.Msg, ok, err
}

func (d spoolStore) remove(seq uint64) error { return d.s.Remove(seq) }
func (d spoolStore) setLimit(n int64) error  { return d.s.SetLimit(n) }
func (d spoolStore) close() error            { return d.s.Close() }
func (d spoolStore) stats() (int, int64) {
	st := d.s.Stats()
	return st.Messages, st.Dropped
}

// outbox sends the stored messages in order. A message leaves the store
// only when Send returned nil or a permanent error.
type outbox struct {
	t      transport.Transport
	log    *slog.Logger
	st     store
	record func(size int, err error)

	wake chan struct{}
	mu   sync.Mutex
	idle chan struct{} // closed when the store is seen empty
}

func newOutbox(t transport.Transport, log *slog.Logger, st store, record func(int, error)) *outbox {
	return &outbox{t: t, log: log, st: st, record: record, wake: make(chan struct{}, 1), idle: make(chan struct{})}
}

// push stores msgs. A store error is logged; the messages are lost only
// if the store cannot take them at all.
func (o *outbox) push(msgs ...transport.Message) {
	if len(msgs) == 0 {
		return
	}
	_, before := o.st.stats()
	if err := o.st.append(msgs); err != nil {
		o.log.Error("outbox: cannot store messages", "messages", len(msgs), "err", err)
	}
	if _, after := o.st.stats(); after > before {
		o.log.Warn("outbox full: dropped the oldest messages", "dropped", after-before, "dropped_total", after)
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) len() int {
	n, _ := o.st.stats()
	return n
}

func (o *outbox) setLimit(n int) {
	if err := o.st.setLimit(int64(n)); err != nil {
		o.log.Error("outbox: set limit", "err", err)
	}
}

func (o *outbox) markIdle() {
	o.mu.Lock()
	close(o.idle)
	o.idle = make(chan struct{})
	o.mu.Unlock()
}

// run sends messages in order until ctx is cancelled, retrying retryable
// errors with backoff and jitter.
func (o *outbox) run(ctx context.Context) {
	b := backoff.Backoff{Min: 500 * time.Millisecond, Max: 2 * time.Minute}
	for {
		seq, m, ok, err := o.st.oldest()
		if err != nil {
			o.log.Error("outbox: read", "err", err)
			if !backoff.Sleep(ctx, b.Next()) {
				return
			}
			continue
		}
		if !ok {
			o.markIdle()
			select {
			case <-ctx.Done():
				return
			case <-o.wake:
				continue
			}
		}
		err = o.t.Send(ctx, m)
		if ctx.Err() != nil {
			return
		}
		o.record(len(m.Body), err)
		switch {
		case err == nil || transport.IsPermanent(err):
			if err != nil {
				o.log.Error("message rejected permanently; dropped", "id", m.ID, "bytes", len(m.Body), "err", err)
			}
			b.Reset()
			if err := o.st.remove(seq); err != nil {
				o.log.Error("outbox: remove", "err", err)
			}
		default:
			d := b.Next()
			o.log.Warn("send failed; will retry", "err", err, "retry_in", d.Round(time.Millisecond), "queued", o.len())
			if !backoff.Sleep(ctx, d) {
				return
			}
		}
	}
}

// drain waits until the store is empty or ctx is done and returns the
// number of messages left.
func (o *outbox) drain(ctx context.Context) int {
	for {
		o.mu.Lock()
		idle := o.idle
		o.mu.Unlock()
		n := o.len()
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

// openStore opens the durable spool at path, or returns a memory store
// when path is empty.
func openStore(path string, limit int64) (store, error) {
	if path == "" {
		return &memStore{limit: limit}, nil
	}
	s, err := spool.Open(path, limit)
	if err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	return spoolStore{s}, nil
}
