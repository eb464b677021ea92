package transporttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/edgesec/edgesec/internal/subtest"
	"github.com/edgesec/edgesec/transport"
)

var fastBounds = bounds{send: 100 * time.Millisecond, close: 200 * time.Millisecond, slack: 500 * time.Millisecond, leak: time.Second}

func runFake(t *testing.T, cfg Config) map[string][]string {
	t.Helper()
	s := subtest.NewRecorder(t)
	run(s, cfg, fastBounds)
	return s.Failures()
}

var wantFailure = subtest.WantFailure

// peer is the fake transports' other side: it records bodies and can hang.
type peer struct {
	mu     sync.Mutex
	bodies [][]byte
	hung   chan struct{}
}

func (p *peer) hang(*testing.T) func() {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := make(chan struct{})
	p.hung = ch
	return sync.OnceFunc(func() {
		p.mu.Lock()
		p.hung = nil
		p.mu.Unlock()
		close(ch)
	})
}

func (p *peer) delivered(*testing.T) [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.bodies...)
}

// faults make a fake transport break one rule.
type faults struct {
	ignoreCtx, plainClosedErr, closeTwiceFails, mutate, retryableOversize, leak, lose bool
}

// fake is a transport to a peer; with no faults it passes the suite.
type fake struct {
	p      *peer
	f      faults
	mu     sync.Mutex
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

const fakeMax = 1000

func newFake(p *peer, f faults) *fake {
	tr := &fake{p: p, f: f, stop: make(chan struct{}), done: make(chan struct{})}
	go func() { // a background goroutine, as a connection manager has
		defer close(tr.done)
		<-tr.stop
	}()
	return tr
}

func (tr *fake) Send(ctx context.Context, m transport.Message) error {
	tr.mu.Lock()
	closed := tr.closed
	tr.mu.Unlock()
	if closed {
		if tr.f.plainClosedErr {
			return errors.New("fake: closed")
		}
		return fmt.Errorf("fake: %w", transport.ErrClosed)
	}
	if len(m.Body) > fakeMax {
		err := fmt.Errorf("fake: %d bytes is too large", len(m.Body))
		if tr.f.retryableOversize {
			return err
		}
		return transport.Permanent(err)
	}
	if tr.f.mutate && len(m.Body) > 0 {
		m.Body[len(m.Body)-2] = 'Y'
	}
	tr.p.mu.Lock()
	hung := tr.p.hung
	tr.p.mu.Unlock()
	if hung != nil {
		if tr.f.ignoreCtx {
			<-hung
			return errors.New("fake: peer was not answering")
		}
		select {
		case <-hung:
			return errors.New("fake: peer was not answering")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if !tr.f.lose {
		tr.p.mu.Lock()
		tr.p.bodies = append(tr.p.bodies, bytes.Clone(m.Body))
		tr.p.mu.Unlock()
	}
	return nil
}

func (tr *fake) Close(ctx context.Context) error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.closed {
		if tr.f.closeTwiceFails {
			return errors.New("fake: already closed")
		}
		return nil
	}
	tr.closed = true
	if tr.f.leak {
		return nil
	}
	close(tr.stop)
	select {
	case <-tr.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func fakeConfig(f faults) Config {
	p := &peer{}
	return Config{
		New:       func(*testing.T) transport.Transport { return newFake(p, f) },
		Delivered: p.delivered,
		Hang:      p.hang,
		TooLarge:  fakeMax + 1,
	}
}

func TestGoodFakeConforms(t *testing.T) {
	if failures := runFake(t, fakeConfig(faults{})); len(failures) != 0 {
		t.Fatalf("a conforming transport failed: %q", failures)
	}
}

func TestRunOnGoodFake(t *testing.T) {
	Run(t, fakeConfig(faults{}))
}

func TestDetectsIgnoredContext(t *testing.T) {
	wantFailure(t, runFake(t, fakeConfig(faults{ignoreCtx: true})), "HangingPeer", "did not return within")
}

func TestDetectsClosedErrorNotMatchingErrClosed(t *testing.T) {
	wantFailure(t, runFake(t, fakeConfig(faults{plainClosedErr: true})), "SendAfterClose", "transport.ErrClosed")
}

func TestDetectsCloseNotIdempotent(t *testing.T) {
	wantFailure(t, runFake(t, fakeConfig(faults{closeTwiceFails: true})), "SendAfterClose", "idempotent")
}

func TestDetectsMutatedBody(t *testing.T) {
	wantFailure(t, runFake(t, fakeConfig(faults{mutate: true})), "Deliver", "modified the message")
}

func TestDetectsRetryableOversize(t *testing.T) {
	wantFailure(t, runFake(t, fakeConfig(faults{retryableOversize: true})), "Oversize", "want a permanent error")
}

func TestDetectsLeakedGoroutine(t *testing.T) {
	wantFailure(t, runFake(t, fakeConfig(faults{leak: true})), "Deliver", "still running")
}

func TestDetectsLostMessage(t *testing.T) {
	wantFailure(t, runFake(t, fakeConfig(faults{lose: true})), "Deliver", "did not receive")
}

func TestProxyHangsAndResumes(t *testing.T) {
	// An echo server behind the proxy.
	srv, addr := startEcho(t)
	defer srv()
	p := StartProxy(t, addr)
	c, err := dialT(p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := roundTrip(t, c, "a", time.Second); got != "a" {
		t.Fatalf("echo through the proxy: %q", got)
	}
	resume := p.Hang()
	if got := roundTrip(t, c, "b", 200*time.Millisecond); got != "" {
		t.Fatalf("the hung proxy forwarded %q", got)
	}
	resume()
	if got := roundTrip(t, c, "", time.Second); got != "b" {
		t.Fatalf("after resume: %q", got)
	}
}
