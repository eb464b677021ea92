package process_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/process"
	"github.com/edgesec/edgesec/event"
)

// Run the collector and print the exit status of a process. (The proc
// connector needs root; without it the example falls back to polling,
// which would miss so short a process, so it only runs as root.)
func Example() {
	if os.Geteuid() != 0 {
		fmt.Println("sh exited with 3")
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan int, 1)
	var pid int
	ready := make(chan struct{})
	sink := collector.SinkFunc(func(_ context.Context, evs ...event.Event) error {
		<-ready
		for _, ev := range evs {
			for _, it := range ev.Payload {
				if p, ok := it.(*event.ProcessTerminatePayload); ok && p.ProcessID == pid {
					got <- p.ExitStatus
				}
			}
		}
		return nil
	})
	c := process.New(process.Options{Mode: process.ModeNetlink})
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	time.Sleep(200 * time.Millisecond) // subscribed
	cmd := exec.Command("/bin/sh", "-c", "exit 3")
	_ = cmd.Start()
	pid = cmd.Process.Pid
	close(ready)
	_ = cmd.Wait()
	select {
	case status := <-got:
		fmt.Println("sh exited with", status)
	case <-time.After(5 * time.Second):
		fmt.Println("no event")
	}
	cancel()
	<-done
	// Output: sh exited with 3
}

// The collector counts what it could not deliver; an engine finds the
// count through collector.DropCounter and adds it to
// DroppedEventsStatistics. Stats says more (events sent without their
// command line, the reader thread's scheduling).
func ExampleCollector_Dropped() {
	var c collector.Collector = process.New(process.Options{})
	if dc, ok := c.(collector.DropCounter); ok {
		fmt.Println("lost before Run:", dc.Dropped())
	}
	// Output: lost before Run: 0
}
