package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgesec/edgesec/internal/backoff"
	"github.com/edgesec/edgesec/transport"
)

// Defaults of Options.
const (
	// DefaultMemoryLimit bounds the MemoryStore used when Options.Store is
	// nil.
	DefaultMemoryLimit = 2 << 20
	// DefaultMinBackoff and DefaultMaxBackoff bound the jittered delay
	// between attempts to send a message the transport failed to take.
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 2 * time.Minute
	// DefaultCloseGrace is how long Close still gives the next transport
	// to close after its context ended while draining.
	DefaultCloseGrace = 2 * time.Second
	// DefaultLogEvery is the shortest interval between two log lines about
	// the same kind of repeated failure.
	DefaultLogEvery = time.Minute
	// Under4KB is the body size below which a sent message counts in
	// Stats.SentUnder4KB (IoT Hub meters messages in 4 KB units).
	Under4KB = 4096
)

// Options configure an Outbox.
type Options struct {
	// Store keeps the messages until next accepts them; the outbox owns
	// it and closes it. Nil means NewMemoryStore(DefaultMemoryLimit). Use
	// boltstore.Open for a store that survives restarts.
	Store Store
	// Logger receives the outbox's logs; nil discards them. Repeated
	// failures are logged at most once per LogEvery, with the number of
	// lines left out.
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the jittered exponential delay
	// before a message the transport failed to take is tried again
	// (defaults DefaultMinBackoff, DefaultMaxBackoff). A delay asked for
	// with transport.RetryAfter is honoured when it is longer.
	MinBackoff, MaxBackoff time.Duration
	// CloseGrace is how long Close still gives next to close when Close's
	// context ended while draining (default DefaultCloseGrace).
	CloseGrace time.Duration
	// LogEvery limits repeated log lines (default DefaultLogEvery).
	LogEvery time.Duration
	// Record, when set, is called by the sending goroutine after every
	// attempt with the body size and the transport's answer.
	Record func(bodyBytes int, err error)
}

// Stats are an Outbox's counters. Counters are totals since New.
type Stats struct {
	// Queued and QueuedBytes are the messages waiting to be sent (their
	// size as the store counts it).
	Queued      int
	QueuedBytes int64
	// Sent counts the messages the transport accepted; SentUnder4KB those
	// of them whose body is under 4096 bytes.
	Sent, SentUnder4KB int64
	// Failed counts the send attempts that failed (permanently or not);
	// Retries the attempts that were not a message's first.
	Failed, Retries int64
	// Rejected counts the messages dropped because the transport refused
	// them permanently (transport.Permanent).
	Rejected int64
	// Dropped counts the messages dropped to stay in bounds: the oldest
	// ones beyond the store's limit or its disk, and the messages the
	// store could not take at all. (The oldest message may be dropped
	// while it is being sent; if that send succeeds, it is counted in
	// Sent as well.)
	Dropped int64
	// Damaged counts the records the store could not read back.
	Damaged int64
	// PendingDeletes is the number of delivered messages whose delete has
	// not committed yet (the disk is full); they are not sent again.
	PendingDeletes int
	// DiskFull is true while the store is held at its size because its
	// disk filled up.
	DiskFull bool
}

// Outbox is a transport.Transport that queues messages in a Store and
// sends them, oldest first, through the next transport, retrying with
// backoff. Its Send returns once the message is stored.
//
// New starts the one goroutine that sends; Close stops it. All methods
// are safe for concurrent use.
type Outbox struct {
	next  transport.Transport
	st    Store
	log   *slog.Logger
	o     Options
	limit *limiter

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{}

	// closing is held for reading by Send while it appends, and for
	// writing by Close to mark the outbox closed.
	closing sync.RWMutex
	closed  bool

	closeOnce sync.Once
	closeErr  error

	mu       sync.Mutex
	acks     acks
	progress chan struct{} // closed and replaced when a message leaves the queue

	sent, under4k, failed, retries, rejected, lost atomic.Int64
}

var _ transport.Transport = (*Outbox)(nil)

// New returns an Outbox sending through next and starts its sending
// goroutine. Close stops it.
func New(next transport.Transport, o Options) (*Outbox, error) {
	if next == nil {
		return nil, errors.New("outbox: next transport is nil")
	}
	if o.Store == nil {
		o.Store = NewMemoryStore(DefaultMemoryLimit)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.CloseGrace <= 0 {
		o.CloseGrace = DefaultCloseGrace
	}
	if o.LogEvery <= 0 {
		o.LogEvery = DefaultLogEvery
	}
	ctx, cancel := context.WithCancel(context.Background())
	ob := &Outbox{
		next: next, st: o.Store, log: o.Logger, o: o, limit: newLimiter(o.LogEvery),
		ctx: ctx, cancel: cancel, done: make(chan struct{}), wake: make(chan struct{}, 1),
		acks:     newAcks(o.MinBackoff, min(o.MaxBackoff, 30*time.Second)),
		progress: make(chan struct{}),
	}
	go ob.run()
	return ob, nil
}

// Send stores m and returns once it is stored (durably, with a durable
// store); the sending goroutine delivers it later. It returns an error
// matching transport.ErrClosed after Close, and an error when the store
// cannot take m at all (then m is counted in Stats.Dropped).
func (o *Outbox) Send(ctx context.Context, m transport.Message) error {
	return o.SendBatch(ctx, []transport.Message{m})
}

// SendBatch stores msgs, in order, in one store operation (one disk
// commit with a durable store); otherwise it is Send.
func (o *Outbox) SendBatch(ctx context.Context, msgs []transport.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	o.closing.RLock()
	defer o.closing.RUnlock()
	if o.closed {
		return fmt.Errorf("outbox: %w", transport.ErrClosed)
	}
	before := o.st.Stats().Dropped
	if err := o.st.Append(msgs...); err != nil {
		o.lost.Add(int64(len(msgs)))
		o.logf(slog.LevelError, "store", "outbox: cannot store messages; dropped", "messages", len(msgs), "err", err)
		return fmt.Errorf("outbox: store: %w", err)
	}
	if after := o.st.Stats().Dropped; after > before {
		o.logf(slog.LevelWarn, "full", "outbox full: dropped the oldest messages", "dropped", after-before, "dropped_total", after)
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// SetLimit changes the store's bound in bytes; if it holds more, the
// oldest messages are dropped and counted.
func (o *Outbox) SetLimit(bytes int64) error {
	if err := o.st.SetLimit(bytes); err != nil {
		return fmt.Errorf("outbox: set limit: %w", err)
	}
	return nil
}

// Stats returns the outbox's counters.
func (o *Outbox) Stats() Stats {
	st := o.st.Stats()
	o.mu.Lock()
	pending, pendingBytes := o.acks.len(), o.acks.bytes
	o.mu.Unlock()
	return Stats{
		Queued:         max(st.Messages-pending, 0),
		QueuedBytes:    max(st.Bytes-pendingBytes, 0),
		Sent:           o.sent.Load(),
		SentUnder4KB:   o.under4k.Load(),
		Failed:         o.failed.Load(),
		Retries:        o.retries.Load(),
		Rejected:       o.rejected.Load(),
		Dropped:        st.Dropped + o.lost.Load(),
		Damaged:        st.Damaged,
		PendingDeletes: pending,
		DiskFull:       st.DiskFull,
	}
}

// Drain waits until every queued message has left the queue (sent, or
// rejected permanently) or ctx is done, and returns the number of
// messages left.
func (o *Outbox) Drain(ctx context.Context) (left int) {
	for {
		o.mu.Lock()
		ch := o.progress
		o.mu.Unlock()
		if n := o.Stats().Queued; n == 0 {
			return 0
		}
		select {
		case <-ch:
		case <-o.done:
			return o.Stats().Queued
		case <-ctx.Done():
			return o.Stats().Queued
		}
	}
}

// Close stops the outbox: later Sends return an error matching
// transport.ErrClosed; it keeps sending until the queue is empty or ctx is
// done (see Drain), stops the sending goroutine, closes the store and then
// the next transport (with ctx, or, if ctx ended meanwhile, with
// CloseGrace more). Messages not sent by then stay in a durable store
// (and are lost with a MemoryStore); call Drain first to know how many.
// Close is idempotent: later calls return the first call's result.
func (o *Outbox) Close(ctx context.Context) error {
	o.closeOnce.Do(func() { o.closeErr = o.close(ctx) })
	return o.closeErr
}

func (o *Outbox) close(ctx context.Context) error {
	o.closing.Lock()
	o.closed = true
	o.closing.Unlock()
	o.Drain(ctx)
	o.cancel()
	<-o.done
	o.commitAcks(true)
	var errs []error
	if err := o.st.Close(); err != nil {
		errs = append(errs, fmt.Errorf("outbox: close store: %w", err))
	}
	cctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), o.o.CloseGrace)
		defer cancel()
	}
	if err := o.next.Close(cctx); err != nil {
		errs = append(errs, fmt.Errorf("outbox: close next transport: %w", err))
	}
	return errors.Join(errs...)
}

// notify wakes Drain.
func (o *Outbox) notify() {
	o.mu.Lock()
	close(o.progress)
	o.progress = make(chan struct{})
	o.mu.Unlock()
}

// run is the sending goroutine.
func (o *Outbox) run() {
	defer close(o.done)
	ctx := o.ctx
	b := backoff.Backoff{Min: o.o.MinBackoff, Max: o.o.MaxBackoff}
	var cursor, lastTried uint64
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		o.commitAcks(false)
		rec, ok, err := o.st.Next(cursor)
		if err != nil {
			d := b.Next()
			o.logf(slog.LevelError, "read", "outbox: cannot read the store", "err", err, "retry_in", d.Round(time.Millisecond))
			if !backoff.Sleep(ctx, d) {
				return
			}
			continue
		}
		if !ok {
			o.notify()
			wait := time.Hour
			o.mu.Lock()
			if o.acks.len() > 0 {
				wait = max(time.Until(o.acks.retryAt), time.Millisecond)
			}
			o.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-o.wake:
			case <-timer.C:
			}
			continue
		}
		if rec.Seq == lastTried {
			o.retries.Add(1)
		}
		lastTried = rec.Seq
		err = o.next.Send(ctx, rec.Msg)
		if err != nil && ctx.Err() != nil {
			return // stopped: the message stays queued
		}
		if o.o.Record != nil {
			o.o.Record(len(rec.Msg.Body), err)
		}
		if err == nil || transport.IsPermanent(err) {
			if err == nil {
				o.sent.Add(1)
				if len(rec.Msg.Body) < Under4KB {
					o.under4k.Add(1)
				}
			} else {
				o.failed.Add(1)
				o.rejected.Add(1)
				o.logf(slog.LevelError, "rejected", "outbox: message rejected permanently; dropped", "id", rec.Msg.ID, "bytes", len(rec.Msg.Body), "err", err)
			}
			// The message is done with: never send it again, even if the
			// store cannot delete it now.
			cursor = rec.Seq
			o.mu.Lock()
			o.acks.add(rec.Seq, rec.Size)
			o.mu.Unlock()
			b.Reset()
			o.notify()
			continue
		}
		o.failed.Add(1)
		d := b.Next()
		if ra, ok := transport.RetryDelay(err); ok && ra > d {
			d = ra
		}
		o.logf(slog.LevelWarn, "send", "outbox: send failed; will retry", "err", err, "retry_in", d.Round(time.Millisecond), "queued", o.Stats().Queued)
		if !backoff.Sleep(ctx, d) {
			return
		}
	}
}

// commitAcks deletes the acknowledged records from the store when a
// delete is due (or now, if force).
func (o *Outbox) commitAcks(force bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.acks.len() == 0 || (!force && !o.acks.due(time.Now())) {
		return
	}
	seqs := o.acks.seqs()
	err := o.st.Remove(seqs...)
	if err == nil {
		if o.acks.fails > 0 {
			o.log.Info("outbox: delivered messages removed from the store again", "messages", len(seqs), "failed_attempts", o.acks.fails)
		}
		o.acks.committed(seqs)
		return
	}
	d := o.acks.failed(time.Now())
	if st := o.st.Stats(); o.acks.len() > st.Messages {
		var oldest uint64
		if r, ok, err := o.st.Next(0); err == nil && ok {
			oldest = r.Seq
		}
		o.acks.prune(oldest)
	}
	o.logf(slog.LevelError, "remove", "outbox: cannot remove delivered messages from the store; they will not be sent again, retrying the delete",
		"messages", len(seqs), "retry_in", d.Round(time.Millisecond), "err", err)
}

// logf logs at most once per LogEvery for each kind, with the number of
// lines of that kind left out since the last one.
func (o *Outbox) logf(level slog.Level, kind, msg string, args ...any) {
	ok, suppressed := o.limit.allow(kind)
	if !ok {
		return
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	o.log.Log(context.Background(), level, msg, args...)
}

// limiter rate-limits log lines by kind.
type limiter struct {
	every time.Duration
	mu    sync.Mutex
	last  map[string]time.Time
	skip  map[string]int
}

func newLimiter(every time.Duration) *limiter {
	return &limiter{every: every, last: map[string]time.Time{}, skip: map[string]int{}}
}

// allow reports whether a line of kind may be logged now, and how many
// were left out since the last one.
func (l *limiter) allow(kind string) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if last, ok := l.last[kind]; ok && now.Sub(last) < l.every {
		l.skip[kind]++
		return false, 0
	}
	l.last[kind] = now
	n := l.skip[kind]
	l.skip[kind] = 0
	return true, n
}
