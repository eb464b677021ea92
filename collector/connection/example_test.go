package connection_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/collector/connection"
	"github.com/edgesec/edgesec/event"
)

// Run the collector and see the connection this example opens.
func Example() {
	c := connection.New(connection.Options{Interval: 50 * time.Millisecond})
	rec := collectortest.NewRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, rec) }()
	for c.Stats().Snapshots == 0 { // wait for the baseline
		time.Sleep(10 * time.Millisecond)
	}

	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	defer ln.Close()
	conn, _ := net.Dial("tcp4", ln.Addr().String())
	defer conn.Close()
	srv, _ := ln.Accept()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	for rec.Len() < 2 && wctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	for _, ev := range rec.Events() {
		p := ev.Payload[0].(*event.ConnectionCreatePayload)
		if p.LocalPort == port || p.RemotePort == port {
			fmt.Println(p.Direction, p.Protocol, p.ExtraDetails[connection.KeyLoopback])
		}
	}
	// Unordered output:
	// Out TCP true
	// In TCP true
}
