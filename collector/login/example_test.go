package login_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/login"
	"github.com/edgesec/edgesec/event"
)

// Follow a host's btmp: the collector starts at the end of the file and
// sends one Login event per failed login recorded after it started.
func Example() {
	root, _ := os.MkdirTemp("", "hostroot")
	defer os.RemoveAll(root)
	_ = os.MkdirAll(filepath.Join(root, "var/log"), 0o755)
	btmp := filepath.Join(root, "var/log/btmp")
	_ = os.WriteFile(btmp, nil, 0o600)

	c := login.New(login.Options{HostRoot: root, PollInterval: 10 * time.Millisecond})
	got := make(chan event.Event, 1)
	sink := collector.SinkFunc(func(ctx context.Context, evs ...event.Event) error {
		for _, ev := range evs {
			select {
			case got <- ev:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx, sink) }()

	time.Sleep(50 * time.Millisecond) // sshd records a failed login meanwhile
	rec, _ := login.EncodeRecord(login.Record{Type: login.LoginProcess, PID: 4242, Line: "ssh:notty",
		User: "admin", Host: "203.0.113.5", Time: time.Now()}, login.Layout32)
	f, _ := os.OpenFile(btmp, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.Write(rec)
	_ = f.Close()

	ev := <-got
	cancel()
	<-done
	p := ev.Payload[0].(*event.LoginPayload)
	fmt.Println(ev.Name, p.Operation, p.Result, p.UserName, p.RemoteAddress, p.ExtraDetails[login.KeyLine])
	// Output:
	// Login Login Fail admin 203.0.113.5 ssh:notty
}
