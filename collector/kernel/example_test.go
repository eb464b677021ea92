package kernel_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/kernel"
	"github.com/edgesec/edgesec/collector/process"
	"github.com/edgesec/edgesec/event"
)

// Load the eBPF source, falling back to the proc connector when the
// kernel or the capabilities do not allow it.
func ExampleNew() {
	var c collector.Collector
	k, err := kernel.New(kernel.Options{Connections: true})
	switch {
	case err == nil:
		defer k.Close()
		c = k
	case errors.Is(err, kernel.ErrNotAvailable):
		c = process.New(process.Options{}) // and collector/connection for connections
	default:
		fmt.Println(err)
		return
	}
	_ = c // run it with the engine
	fmt.Println("ready")
	// Output: ready
}

// The command line of a process that lives for a few microseconds.
func ExampleCollector_Run() {
	k, err := kernel.New(kernel.Options{})
	if err != nil { // not root, or no BTF: what it would print
		fmt.Println("/bin/echo short-lived")
		return
	}
	defer k.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 1)
	sink := collector.SinkFunc(func(_ context.Context, evs ...event.Event) error {
		for _, ev := range evs {
			for _, it := range ev.Payload {
				if p, ok := it.(*event.ProcessCreatePayload); ok && strings.HasSuffix(p.CommandLine, "short-lived") {
					select {
					case got <- p.CommandLine:
					default:
					}
				}
			}
		}
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx, sink) }()
	_ = exec.Command("/bin/echo", "short-lived").Run()
	select {
	case cmd := <-got:
		fmt.Println(cmd)
	case <-time.After(5 * time.Second):
		fmt.Println("no event")
	}
	cancel()
	<-done
	// Output: /bin/echo short-lived
}

// The kernelWatchedPaths configuration key: the defaults and an
// application's secrets. The engine applies it to a running collector
// (Collector.ApplyConfig); ParseWatchedPaths is what it reads.
func ExampleParseWatchedPaths() {
	paths, err := kernel.ParseWatchedPaths(`["defaults", {"prefix": "/opt/app/secrets/", "ops": "read|write"}]`,
		kernel.DefaultWatchedPaths)
	if err != nil {
		fmt.Println(err)
		return
	}
	last := paths[len(paths)-1]
	fmt.Println(len(paths), last.Prefix, last.Ops)

	_, err = kernel.ParseWatchedPaths(`[{"prefix": "/opt/app/", "ops": "execute"}]`, kernel.DefaultWatchedPaths)
	fmt.Println(err)
	// Output:
	// 18 /opt/app/secrets/ read|write
	// kernel: watched paths: element 0 ("/opt/app/"): kernel: unknown operation "execute" (want read, write, delete, truncate, link)
}
