package iothub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgesec/edgesec/internal/backoff"
	"github.com/edgesec/edgesec/internal/mqttconn"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/twinconfig"
)

// Twin topics (IoT Hub MQTT protocol).
const (
	TopicTwinResponses = "$iothub/twin/res/#"
	TopicTwinDesired   = "$iothub/twin/PATCH/properties/desired/#"
	twinResPrefix      = "$iothub/twin/res/"
	twinDesiredPrefix  = "$iothub/twin/PATCH/properties/desired/"
	twinGetTopic       = "$iothub/twin/GET/?$rid="
	twinReportedTopic  = "$iothub/twin/PATCH/properties/reported/?$rid="
)

// maxEarlyPatches bounds the desired patches held while the full twin is
// being read; more than that and the client reads the twin again.
const maxEarlyPatches = 64

// twinResponse is one message on $iothub/twin/res/{status}/?$rid=….
type twinResponse struct {
	status int
	body   []byte
}

// reportReq is a reported-properties patch waiting to be delivered.
type reportReq struct {
	patch []byte
	done  chan error // buffered; nil once answered
}

func (r *reportReq) answer(err error) {
	if r.done != nil {
		r.done <- err
		r.done = nil
	}
}

// twin runs the module-twin side of the protocol. Its state is owned by
// run's goroutine; the network goroutine talks to it through channels.
type twin struct {
	c       *Client
	log     *slog.Logger
	conns   chan *mqttconn.Conn
	patches chan []byte
	missed  atomic.Bool
	reports chan *reportReq
	rid     atomic.Uint64

	mu      sync.Mutex
	waiting map[string]chan twinResponse

	docMu  sync.Mutex
	seq    uint64
	doc    []byte
	docErr error
	notify chan struct{}
}

func newTwin(c *Client) *twin {
	return &twin{
		c: c, log: c.log,
		conns:   make(chan *mqttconn.Conn, 1),
		patches: make(chan []byte, 256),
		reports: make(chan *reportReq),
		waiting: make(map[string]chan twinResponse),
		notify:  make(chan struct{}),
	}
}

// onConnect subscribes to the twin topics on every (re)connection, before
// the connection is used, then hands it to run, which reads the twin.
func (t *twin) onConnect(ctx context.Context, conn *mqttconn.Conn) error {
	if err := conn.Subscribe(ctx, map[string]byte{TopicTwinResponses: 0, TopicTwinDesired: 1}); err != nil {
		return fmt.Errorf("twin: %w", err)
	}
	select {
	case <-t.conns: // replace a connection run has not seen yet
	default:
	}
	t.conns <- conn
	return nil
}

// onMessage routes the twin messages; it never blocks.
func (t *twin) onMessage(_ *mqttconn.Conn, topic string, payload []byte) {
	switch {
	case strings.HasPrefix(topic, twinResPrefix):
		statusStr, _, _ := strings.Cut(topic[len(twinResPrefix):], "/")
		status, err := strconv.Atoi(statusStr)
		rid := parseQuery(topic).Get("$rid")
		if err != nil || rid == "" {
			t.log.Warn("twin: malformed response topic", "topic", topic)
			return
		}
		t.mu.Lock()
		ch := t.waiting[rid]
		delete(t.waiting, rid)
		t.mu.Unlock()
		if ch != nil {
			ch <- twinResponse{status: status, body: bytes.Clone(payload)}
		}
	case strings.HasPrefix(topic, twinDesiredPrefix):
		select {
		case t.patches <- bytes.Clone(payload):
		default:
			t.missed.Store(true) // read the whole twin instead
		}
	default:
		t.log.Debug("message on an unexpected topic", "topic", topic)
	}
}

// run owns the twin state until ctx is done.
func (t *twin) run(ctx context.Context) {
	var (
		conn       *mqttconn.Conn
		connDone   <-chan struct{}
		desired    []byte
		have       bool
		needGet    bool
		getAt      time.Time
		getB       = backoff.Backoff{Min: time.Second, Max: 60 * time.Second}
		early      [][]byte
		pending    *reportReq
		accepted   []byte // the last patch the hub accepted
		reportAt   time.Time
		repB       = backoff.Backoff{Min: time.Second, Max: 60 * time.Second}
		timer      = time.NewTimer(time.Hour)
		timerArmed bool
	)
	defer timer.Stop()
	defer func() {
		if pending != nil {
			pending.answer(fmt.Errorf("iothub: client closed before the reported properties were delivered: %w", transport.ErrClosed))
		}
	}()
	applyPatch := func(p []byte) {
		merged, ok, gap, err := twinconfig.MergeDesired(desired, p)
		switch {
		case err != nil:
			t.log.Warn("twin: unusable desired-properties patch; reading the twin again", "err", err)
			needGet, getAt = true, time.Now()
		case !ok:
			t.log.Debug("twin: ignoring a desired patch that is not newer than the twin held")
		case gap:
			t.log.Info("twin: desired-properties version gap; reading the twin again")
			needGet, getAt = true, time.Now()
		default:
			desired = merged
			t.publish(desired)
		}
	}
	for {
		now := time.Now()
		if conn != nil {
			if t.missed.Swap(false) {
				needGet, getAt = true, now
			}
			if needGet && !now.Before(getAt) {
				doc, retry, err := t.get(ctx, conn)
				switch {
				case err == nil:
					desired, have, needGet = doc, true, false
					getB.Reset()
					t.publish(desired)
					for _, p := range early {
						applyPatch(p)
					}
					early = nil
				case ctx.Err() != nil:
					return
				default:
					d := getB.Next()
					getAt = time.Now().Add(d)
					t.log.Warn("twin: reading the twin failed", "err", err, "retry_in", d.Round(time.Millisecond))
					if !retry {
						t.publishErr(err)
					}
				}
				continue
			}
			if have && pending != nil && !now.Before(reportAt) {
				status, err := t.report(ctx, conn, pending.patch)
				switch {
				case err == nil:
					t.log.Debug("twin: reported properties accepted", "status", status)
					accepted = pending.patch
					pending.answer(nil)
					pending = nil
					repB.Reset()
				case ctx.Err() != nil:
					return
				case status >= 400 && status < 500 && status != 429:
					pending.answer(transport.Permanent(err))
					t.log.Error("twin: reported properties rejected", "err", err)
					pending = nil
				default:
					d := repB.Next()
					if status == 429 {
						d += repB.Next() // throttled: back off harder
					}
					reportAt = time.Now().Add(d)
					t.log.Warn("twin: reporting properties failed; will retry", "err", err, "retry_in", d.Round(time.Millisecond))
					pending.answer(nil)
				}
				continue
			}
		}
		// Sleep until the next scheduled request, or an event.
		if timerArmed && !timer.Stop() {
			<-timer.C
		}
		timerArmed = false
		if conn != nil {
			var next time.Time
			if needGet {
				next = getAt
			} else if have && pending != nil {
				next = reportAt
			}
			if !next.IsZero() {
				timer.Reset(time.Until(next))
				timerArmed = true
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-connDone:
			conn, connDone = nil, nil
		case nc := <-t.conns:
			conn, connDone = nc, nc.Done()
			needGet, getAt = true, time.Now()
			getB.Reset()
			reportAt = time.Now()
		case p := <-t.patches:
			if !have || needGet {
				if len(early) < maxEarlyPatches {
					early = append(early, p)
				} else {
					needGet = true
				}
				continue
			}
			applyPatch(p)
		case r := <-t.reports:
			if (pending == nil && bytes.Equal(r.patch, accepted)) || (pending != nil && bytes.Equal(r.patch, pending.patch)) {
				// The twin has (or is about to get) this very patch: sending
				// it again would only bump the reported $version.
				t.log.Debug("twin: reported properties unchanged; not sent again")
				r.answer(nil)
				continue
			}
			if pending != nil {
				pending.answer(nil) // superseded by a newer patch
			}
			pending = r
			reportAt = time.Now()
			repB.Reset()
			if conn == nil || !have {
				r.answer(nil) // queued until connected
			}
		case <-timer.C:
			timerArmed = false
		}
	}
}

// request publishes a twin request and waits for its answer.
func (t *twin) request(ctx context.Context, conn *mqttconn.Conn, topicPrefix string, body []byte) (twinResponse, error) {
	rid := strconv.FormatUint(t.rid.Add(1), 10)
	ch := make(chan twinResponse, 1)
	t.mu.Lock()
	t.waiting[rid] = ch
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.waiting, rid)
		t.mu.Unlock()
	}()
	if body == nil {
		body = []byte{}
	}
	if err := conn.Publish(ctx, topicPrefix+rid, 0, body); err != nil {
		return twinResponse{}, err
	}
	timer := time.NewTimer(t.c.o.TwinTimeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		return r, nil
	case <-conn.Done():
		return twinResponse{}, errors.New("connection lost while waiting for the twin's answer")
	case <-timer.C:
		return twinResponse{}, fmt.Errorf("no answer within %s", t.c.o.TwinTimeout)
	case <-ctx.Done():
		return twinResponse{}, ctx.Err()
	}
}

// get reads the full twin and returns its desired section. retry is
// true when the failure is transient.
func (t *twin) get(ctx context.Context, conn *mqttconn.Conn) (desired []byte, retry bool, err error) {
	r, err := t.request(ctx, conn, twinGetTopic, nil)
	if err != nil {
		return nil, true, fmt.Errorf("iothub: twin GET: %w", err)
	}
	if r.status != 200 {
		return nil, r.status == 429 || r.status >= 500, fmt.Errorf("iothub: twin GET: status %d: %s", r.status, truncate(r.body))
	}
	var doc struct {
		Desired json.RawMessage `json:"desired"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		return nil, false, fmt.Errorf("iothub: twin GET: malformed twin: %w", err)
	}
	d := bytes.TrimSpace(doc.Desired)
	if len(d) == 0 || bytes.Equal(d, []byte("null")) {
		d = []byte(`{"$version":0}`)
	}
	if d[0] != '{' {
		return nil, false, errors.New("iothub: twin GET: desired properties are not an object")
	}
	return d, false, nil
}

// report sends a reported-properties patch; it returns the status.
func (t *twin) report(ctx context.Context, conn *mqttconn.Conn, patch []byte) (int, error) {
	r, err := t.request(ctx, conn, twinReportedTopic, patch)
	if err != nil {
		return 0, fmt.Errorf("iothub: reported properties: %w", err)
	}
	if r.status/100 != 2 {
		return r.status, fmt.Errorf("iothub: reported properties: status %d: %s", r.status, truncate(r.body))
	}
	return r.status, nil
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

func (t *twin) publish(doc []byte) {
	t.docMu.Lock()
	defer t.docMu.Unlock()
	if t.docErr == nil && t.seq > 0 && bytes.Equal(doc, t.doc) {
		return
	}
	t.doc, t.docErr = doc, nil
	t.signal()
}

func (t *twin) publishErr(err error) {
	t.docMu.Lock()
	defer t.docMu.Unlock()
	t.docErr = err
	t.signal()
}

// signal must be called with docMu held.
func (t *twin) signal() {
	t.seq++
	close(t.notify)
	t.notify = make(chan struct{})
}

// ReportProperties sends a reported-properties patch (a JSON object, such
// as twinconfig.Reported's output) to the module twin. It returns nil once
// the hub accepted it (status 204), a permanent error when the hub
// rejected it (400 and other 4xx but 429), and nil at once when the patch
// is queued: while the client is not connected, or after a 429 or 5xx
// answer; the client then delivers it after connecting, retrying with
// backoff. A newer patch replaces a queued one; a patch identical to the
// last one the hub accepted (or to the queued one) is not sent again, and
// ReportProperties returns nil. It returns ctx's error if ctx is done
// first.
func (c *Client) ReportProperties(ctx context.Context, patch []byte) error {
	if !json.Valid(patch) || len(bytes.TrimSpace(patch)) == 0 || bytes.TrimSpace(patch)[0] != '{' {
		return transport.Permanent(errors.New("iothub: reported properties must be a JSON object"))
	}
	if len(patch) > twinconfig.MaxDocumentSize {
		return transport.Permanent(fmt.Errorf("iothub: reported properties of %d bytes are too large", len(patch)))
	}
	r := &reportReq{patch: bytes.Clone(patch), done: make(chan error, 1)}
	done := r.done
	select {
	case c.twin.reports <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return fmt.Errorf("iothub: client closed: %w", transport.ErrClosed)
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return fmt.Errorf("iothub: client closed: %w", transport.ErrClosed)
	}
}

// TwinSource delivers the module twin's desired properties; it implements
// the engine's ConfigSource. Obtain it from Client.Twin.
type TwinSource struct{ t *twin }

// Twin returns the source of the module twin's desired properties.
func (c *Client) Twin() *TwinSource { return &TwinSource{t: c.twin} }

// Watch calls apply with the full desired-properties document,
//
//	{"ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration": {...}, "$version": 7, ...}
//
// (the shape twinconfig.Decode reads, so Config.Version is the twin's
// $version) after the client has read the twin, and again after every
// newer desired patch is merged in or the twin is read again with a
// different content. A twin that cannot be read (a non-transient error
// status, a malformed document) is reported as apply(nil, err); the
// client keeps trying. apply is called from Watch's goroutine, never
// concurrently; when several documents arrive while apply runs, only the
// latest is delivered. Watch returns nil when ctx is done. Several Watch
// calls may run at once.
func (s *TwinSource) Watch(ctx context.Context, apply func(doc []byte, err error)) error {
	if apply == nil {
		return errors.New("iothub: Watch needs an apply function")
	}
	var seen uint64
	for {
		s.t.docMu.Lock()
		seq, doc, err, notify := s.t.seq, s.t.doc, s.t.docErr, s.t.notify
		s.t.docMu.Unlock()
		if seq != seen {
			seen = seq
			if err != nil {
				apply(nil, err)
			} else {
				apply(bytes.Clone(doc), nil)
			}
		}
		select {
		case <-notify:
		case <-ctx.Done():
			return nil
		case <-s.t.c.done:
			return nil
		}
	}
}

// Desired returns the desired-properties document held (merged with the
// patches received), and false before the twin has been read.
func (c *Client) Desired() ([]byte, bool) {
	c.twin.docMu.Lock()
	defer c.twin.docMu.Unlock()
	return bytes.Clone(c.twin.doc), c.twin.doc != nil
}
