package mqttconn

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func TestNormalizeBroker(t *testing.T) {
	for in, want := range map[string]string{"mqtts://h:1": "ssl://h:1", "tls://h:1": "ssl://h:1", "mqtt://h:1": "tcp://h:1", "tcp://h:1": "tcp://h:1"} {
		if got, err := normalizeBroker(in); err != nil || got != want {
			t.Errorf("%s → %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"h:1", "http://h:1", "ssl://"} {
		if _, err := normalizeBroker(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestRefusalCodes(t *testing.T) {
	for code, want := range map[byte]bool{0: false, 1: false, 2: true, 3: false, 4: true, 5: true} {
		if isRefusal(code) != want {
			t.Errorf("code %d", code)
		}
	}
}

// TestCancelledConnectReturnsPromptly: a broker that accepts the TCP
// connection but never answers CONNECT must not hold a cancelled attempt
// for the whole ConnectTimeout.
func TestCancelledConnectReturnsPromptly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // never answer
		}
	}()
	m := &Manager{}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, _, err = m.connect(ctx, Params{Broker: "tcp://" + ln.Addr().String(), ClientID: "c", ConnectTimeout: 30 * time.Second})
	if err == nil {
		t.Fatal("connect to a silent broker succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancelled connect returned after %v; want well under the 30 s ConnectTimeout", d)
	}
}

// silentSubscribeBroker accepts MQTT connections, acknowledges CONNECT and
// then reads everything without answering (no SUBACK), as a broker that
// hangs or a connection the MQTT library lost without telling looks from
// the set-up's side. It sends each accepted connection's number on conns.
func silentSubscribeBroker(t *testing.T) (addr string, conns <-chan int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan int, 16)
	go func() {
		for n := 1; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go func() {
				r := bufio.NewReader(c)
				if _, err := r.ReadByte(); err != nil { // CONNECT
					return
				}
				size, mult := 0, 1
				for {
					b, err := r.ReadByte()
					if err != nil {
						return
					}
					size += int(b&0x7f) * mult
					mult *= 128
					if b&0x80 == 0 {
						break
					}
				}
				if _, err := io.CopyN(io.Discard, r, int64(size)); err != nil {
					return
				}
				if _, err := c.Write([]byte{0x20, 0x02, 0x00, 0x00}); err != nil { // CONNACK, accepted
					return
				}
				select {
				case ch <- n:
				default:
				}
				_, _ = io.Copy(io.Discard, r)
			}()
		}
	}()
	return ln.Addr().String(), ch
}

// TestSetupTimeout: a connection whose set-up never completes (here: the
// broker never acknowledges SUBSCRIBE) is dropped after ConnectTimeout
// with ErrSetupTimeout, and the manager connects again, instead of
// waiting forever.
func TestSetupTimeout(t *testing.T) {
	addr, conns := silentSubscribeBroker(t)
	setupErrs := make(chan error, 16)
	m, err := Start(Options{
		Name: "test",
		Params: func(context.Context) (Params, error) {
			return Params{Broker: "tcp://" + addr, ClientID: "c", ConnectTimeout: 300 * time.Millisecond}, nil
		},
		OnConnect: func(ctx context.Context, c *Conn) error {
			err := c.Subscribe(ctx, map[string]byte{"t": 1})
			setupErrs <- err
			return err
		},
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	deadline := time.After(10 * time.Second)
	for want := 1; want <= 2; want++ {
		select {
		case n := <-conns:
			if n != want {
				t.Fatalf("connection %d, want %d", n, want)
			}
		case <-deadline:
			t.Fatalf("no connection %d: the manager is stuck in the set-up of the first", want)
		}
	}
	select {
	case err := <-setupErrs:
		if !errors.Is(err, ErrSetupTimeout) {
			t.Fatalf("set-up ended with %v, want ErrSetupTimeout", err)
		}
	case <-deadline:
		t.Fatal("the set-up did not end")
	}
}
