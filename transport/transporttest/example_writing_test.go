package transporttest_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgesec/edgesec/outbox"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/transporttest"
)

// This file holds the code of docs/writing-a-transport.md (TestDocSnippets
// checks that every Go block of that page is in it, verbatim).

// LineTransport sends each message as one line over TCP and waits for the
// peer's answer line: "ok", "busy <seconds>" or "refused".
type LineTransport struct {
	Addr     string // host:port of the peer
	MaxBytes int    // largest body the peer accepts

	mu     sync.Mutex // guards conn and closed; never held during I/O
	conn   net.Conn
	r      *bufio.Reader
	closed bool
}

// Send returns nil only once the peer answered "ok": the message is
// durable on the other side.
func (t *LineTransport) Send(ctx context.Context, m transport.Message) error {
	if len(m.Body) > t.MaxBytes || strings.ContainsAny(string(m.Body), "\r\n") {
		// Sending it again cannot help: a permanent error drops it.
		return transport.Permanent(fmt.Errorf("line: message %s: %d bytes, over %d or not one line", m.ID, len(m.Body), t.MaxBytes))
	}
	conn, r, err := t.connect(ctx)
	if err != nil {
		return err
	}
	// Honour ctx while waiting for the peer: cancelling interrupts the I/O.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	answer, err := exchange(conn, r, m.Body)
	if err != nil {
		t.drop(conn) // reconnect on the next Send
		if ctx.Err() != nil {
			return fmt.Errorf("line: %w", ctx.Err())
		}
		return fmt.Errorf("line: %w", err) // retryable
	}
	switch {
	case answer == "ok":
		return nil
	case strings.HasPrefix(answer, "busy "):
		secs, _ := strconv.Atoi(strings.TrimPrefix(answer, "busy "))
		return transport.RetryAfter(errors.New("line: peer busy"), time.Duration(secs)*time.Second)
	case answer == "refused":
		return transport.Permanent(fmt.Errorf("line: message %s refused", m.ID))
	}
	return fmt.Errorf("line: unexpected answer %q", answer)
}

func (t *LineTransport) connect(ctx context.Context) (net.Conn, *bufio.Reader, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, nil, fmt.Errorf("line: %w", transport.ErrClosed)
	}
	if t.conn == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", t.Addr)
		if err != nil {
			return nil, nil, fmt.Errorf("line: connect: %w", err)
		}
		t.conn, t.r = c, bufio.NewReader(c)
	}
	return t.conn, t.r, nil
}

func exchange(conn net.Conn, r *bufio.Reader, body []byte) (string, error) {
	if _, err := conn.Write(append(body[:len(body):len(body)], '\n')); err != nil {
		return "", err
	}
	line, err := r.ReadString('\n')
	return strings.TrimSpace(line), err
}

func (t *LineTransport) drop(conn net.Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_ = conn.Close()
	if t.conn == conn {
		t.conn, t.r = nil, nil
	}
}

// Close is idempotent and bounded: closing the connection interrupts a
// Send in progress. The transport starts no goroutine of its own.
func (t *LineTransport) Close(context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	if t.conn != nil {
		_ = t.conn.Close()
		t.conn = nil
	}
	return nil
}

func TestLineTransportConforms(t *testing.T) {
	peer := startLinePeer(t)                        // answers "ok" to every line
	proxy := transporttest.StartProxy(t, peer.addr) // can make the peer hang
	transporttest.Run(t, transporttest.Config{
		New: func(t *testing.T) transport.Transport {
			return &LineTransport{Addr: proxy.Addr(), MaxBytes: 64 << 10}
		},
		Delivered: func(*testing.T) [][]byte { return peer.lines() },
		Hang:      func(*testing.T) func() { return proxy.Hang() },
		TooLarge:  64<<10 + 1,
	})
}

func newDurableLineTransport(addr string) (*outbox.Outbox, error) {
	return outbox.New(&LineTransport{Addr: addr, MaxBytes: 64 << 10}, outbox.Options{
		Store:      outbox.NewMemoryStore(8 << 20), // or boltstore.Open(path, …) to survive restarts
		MinBackoff: time.Second,
		MaxBackoff: time.Minute,
	})
}

// linePeer is a TCP server that answers "ok" to every line and records it.
type linePeer struct {
	addr string
	mu   sync.Mutex
	got  [][]byte
}

func (p *linePeer) lines() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.got...)
}

func startLinePeer(t *testing.T) *linePeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &linePeer{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadBytes('\n')
					if err != nil {
						return
					}
					p.mu.Lock()
					p.got = append(p.got, line[:len(line)-1])
					p.mu.Unlock()
					if _, err := c.Write([]byte("ok\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return p
}

func TestDurableLineTransport(t *testing.T) {
	peer := startLinePeer(t)
	ob, err := newDurableLineTransport(peer.addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ob.Send(ctx, transport.NewSecurityMessage([]byte(`{"n":1}`), 0, time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := ob.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := peer.lines(); len(got) != 1 || string(got[0]) != `{"n":1}` {
		t.Fatalf("peer got %q", got)
	}
}
