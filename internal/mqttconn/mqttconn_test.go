package mqttconn

import (
	"context"
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
