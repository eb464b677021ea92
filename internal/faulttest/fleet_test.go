//go:build fault && linux

package faulttest

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/mqtttest"
	"github.com/edgesec/edgesec/outbox/boltstore"
	"github.com/edgesec/edgesec/transport/mqtt"
	"github.com/edgesec/edgesec/twinconfig"
)

// synthetic is a collector that reports one marked process every
// interval, as a device running a few commands would.
type synthetic struct {
	prefix   string
	interval time.Duration
	mu       sync.Mutex
	sent     []string
	stopped  atomic.Bool // stop producing (Run keeps running)
}

func (s *synthetic) Name() string { return event.ProcessCreate }

func (s *synthetic) Run(ctx context.Context, sink collector.Sink) error {
	tk := time.NewTicker(s.interval)
	defer tk.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tk.C:
		}
		if s.stopped.Load() {
			continue
		}
		mk := fmt.Sprintf("%s-%d", s.prefix, i)
		ev := event.Must(event.ProcessCreate, time.Now(), &event.ProcessCreatePayload{
			Executable: "/usr/bin/true", ProcessID: 1000 + i, UserID: "0", CommandLine: "/usr/bin/true " + mk,
		})
		if err := sink.Emit(ctx, ev); err != nil {
			continue // not produced: the engine refused it (and counted it)
		}
		s.mu.Lock()
		s.sent = append(s.sent, mk)
		s.mu.Unlock()
	}
}

func (s *synthetic) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sent...)
}

// TestFleet runs -fleet.n engines (edgesec.New + transport/mqtt, each its
// own client id, device, state dir and spool) in this process against one
// mosquitto behind a proxy, each reporting one process a second. Then the
// broker restarts while the proxy drops every third new connection (a
// throttled hub): reconnections spread over time by the backoff's jitter
// (the curve is logged), no instance loses anything, and no instance
// retries in a tight loop.
func TestFleet(t *testing.T) {
	n := *fleetN
	m := mqtttest.StartMosquitto(t)
	sub := newSubscriber(t, m, "fleet/#")
	p := startProxy(t, fmt.Sprintf("127.0.0.1:%d", m.Port))
	cfg, problems, err := twinconfig.Decode([]byte(fastConfig))
	if err != nil || len(problems) > 0 {
		t.Fatalf("config: %v %v", err, problems)
	}

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	goroutinesBefore := runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	gens := make([]*synthetic, n)
	errs := make(chan error, n)
	startAt := time.Now()
	for i := range n {
		dir := t.TempDir()
		tr, err := mqtt.New(mqtt.Options{
			URL:      fmt.Sprintf("mqtts://localhost:%d", p.port()),
			ClientID: fmt.Sprintf("fleet-%s-%04d", runID, i),
			Username: m.User, Password: m.Password, CAFile: m.CAFile,
			Topic:  "fleet/{device}/{priority}",
			Device: fmt.Sprintf("dev%04d", i),
		})
		if err != nil {
			t.Fatal(err)
		}
		st, err := boltstore.Open(filepath.Join(dir, "spool.db"), boltstore.Options{MaxBytes: 2 << 20})
		if err != nil {
			t.Fatal(err)
		}
		c := cfg
		eng := edgesec.New(edgesec.Options{
			AgentVersion: "fleet/1.0",
			StateDir:     dir,
			Store:        st,
			Transport:    tr,
			Config:       &c,
			Logger:       slog.New(slog.DiscardHandler),
		})
		gens[i] = &synthetic{prefix: fmt.Sprintf("FM%s-f%04d", runID, i), interval: time.Second}
		eng.AddCollector(gens[i])
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := eng.Run(ctx); err != nil {
				errs <- err
			}
		}()
	}
	t.Logf("fleet %d: started in %.1f s", n, time.Since(startAt).Seconds())

	// Steady state: every instance connected and sending.
	warm := shortLong(8*time.Second, 60*time.Second)
	time.Sleep(warm)
	var steady runtime.MemStats
	runtime.ReadMemStats(&steady)
	ru0 := rusage()
	msgs0, t0 := sub.messagesNow(), time.Now()
	time.Sleep(shortLong(5*time.Second, 20*time.Second))
	ru1 := rusage()
	msgs1, t1 := sub.messagesNow(), time.Now()
	wall := t1.Sub(t0).Seconds()
	cpu := (ru1 - ru0).Seconds()
	t.Logf("fleet %d: per instance %.0f KiB heap in use, %.1f goroutines, %.2f ms CPU per second (whole process %.0f%% of one core incl. subscriber and proxy); broker throughput %.0f messages/s",
		n, float64(steady.HeapInuse+steady.StackInuse-before.HeapInuse-before.StackInuse)/1024/float64(n),
		float64(runtime.NumGoroutine()-goroutinesBefore)/float64(n), 1000*cpu/wall/float64(n), 100*cpu/wall,
		float64(msgs1-msgs0)/wall)

	// Restart the broker while throttled: every third connection dropped.
	p.dropEvery.Store(3)
	restartAt := time.Now()
	m.Restart(5 * time.Second)
	returnAt := time.Now()
	time.Sleep(shortLong(15*time.Second, 30*time.Second))
	p.dropEvery.Store(0)
	time.Sleep(shortLong(5*time.Second, 30*time.Second))
	for _, g := range gens {
		g.stopped.Store(true)
	}

	// Every instance's every process delivered.
	deadline := time.Now().Add(shortLong(3*time.Minute, 10*time.Minute))
	var sent, delivered, worst int
	var lossy []string
	for {
		sent, delivered, worst, lossy = 0, 0, 0, nil
		sub.mu.Lock()
		for i, g := range gens {
			list := g.list()
			got := sub.perInst[g.prefix]
			miss := 0
			for _, mk := range list {
				if !got[mk] {
					miss++
				}
			}
			sent += len(list)
			delivered += len(list) - miss
			if miss > 0 {
				lossy = append(lossy, fmt.Sprintf("dev%04d:%d", i, miss))
				worst = max(worst, miss)
			}
		}
		sub.mu.Unlock()
		if len(lossy) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	curve := p.acceptsPerSecond(restartAt, 60)
	p.mu.Lock()
	dropped := p.dropped
	total := len(p.accepts)
	p.mu.Unlock()
	var peak, sum int
	for _, c := range curve {
		sum += c
	}
	for _, c := range p.acceptsPerSecond(returnAt, 60) {
		peak = max(peak, c)
	}
	t.Logf("fleet %d: delivered/sent %d/%d; %d connections dropped by the throttling proxy; %d connection attempts in the 60 s from the restart (%.1f per instance), peak %d/s after the broker's return",
		n, delivered, sent, dropped, sum, float64(sum)/float64(n), peak)
	t.Logf("fleet %d: connection attempts per second from the broker's stop: %v", n, curve)
	t.Logf("fleet %d: %d connection attempts in all (%.1f per instance)", n, total, float64(total)/float64(n))
	if len(lossy) > 0 {
		sort.Strings(lossy)
		t.Errorf("fleet %d: %d instances lost processes (worst %d): %s", n, len(lossy), worst, strings.Join(head(lossy, 10), " "))
	}
	// A reconnect storm without backoff makes hundreds of attempts per
	// instance a minute; the 1 s–60 s jittered backoff makes a handful.
	if per := float64(sum) / float64(n); per > 15 {
		t.Errorf("fleet %d: %.1f connection attempts per instance in the 60 s after the restart: no backoff", n, per)
	}
	// Spread: once the broker is back, not every instance in the same
	// second.
	if n >= 100 && peak > n*3/4 {
		t.Errorf("fleet %d: %d reconnections in one second: not spread by jitter", n, peak)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("engine Run: %v", err)
	}
}

func rusage() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
