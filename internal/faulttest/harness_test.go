//go:build fault && linux

package faulttest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgesec/edgesec/internal/mqtttest"
)

var (
	long      = flag.Bool("fault.long", false, "run the long form of the fault campaign (minutes per scenario)")
	fleetN    = flag.Int("fleet.n", 10, "engine instances in TestFleet")
	moduleBin string
)

// shortLong picks the short or the long form of a duration.
func shortLong(short, lng time.Duration) time.Duration {
	if *long {
		return lng
	}
	return short
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "faulttest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	moduleBin = filepath.Join(dir, "securitymodule")
	build := exec.Command("go", "build", "-o", moduleBin, "github.com/edgesec/edgesec/examples/securitymodule")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "faulttest: go build ./examples/securitymodule:", err)
		return 1
	}
	return m.Run()
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the module's process collector reads the kernel proc connector")
	}
}

// runID keeps markers unique across runs on the same host.
var runID = func() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

// ---------------------------------------------------------------------
// The subscriber: a persistent QoS 1 session counting markers and event
// ids.

var markerRE = regexp.MustCompile(`FM` + `[0-9a-f]{8}-[A-Za-z0-9]+-[0-9]+`)

type envelope struct {
	AgentID string `json:"AgentId"`
	Events  []struct {
		ID      string `json:"Id"`
		Name    string
		Payload []map[string]any
	}
}

// subscriber counts what a real QoS 1 subscriber receives.
type subscriber struct {
	client paho.Client

	mu       sync.Mutex
	messages int
	bytes    int64
	first    map[string]int    // marker → number of distinct messages carrying it
	msgOf    map[string]string // marker → key of the first message carrying it
	msgSeen  map[string]int    // message key (its event ids) → times received
	eventIn  map[string]string // event id → message key
	dropped  int64             // sum of every DroppedEventsStatistics drop counter
	badEvent int               // an event id received in two different messages
	unmarked int               // ProcessCreate of ours reported without its command line (EnrichmentError)
	arrivals []time.Time       // when each message (not a duplicate) arrived
	agents   map[string]int
	byTopic  map[string]int
	perInst  map[string]map[string]bool // fleet: instance → markers
	names    map[string]int             // events by name
}

func newSubscriber(t *testing.T, m *mqtttest.Mosquitto, topic string) *subscriber {
	t.Helper()
	s := &subscriber{first: map[string]int{}, msgOf: map[string]string{}, msgSeen: map[string]int{},
		eventIn: map[string]string{}, agents: map[string]int{}, byTopic: map[string]int{}, perInst: map[string]map[string]bool{},
		names: map[string]int{}}
	pem, err := os.ReadFile(m.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	o := paho.NewClientOptions().AddBroker(fmt.Sprintf("ssl://localhost:%d", m.Port)).
		SetClientID("faulttest-sub-" + runID + "-" + strconv.Itoa(int(subSeq.Add(1)))).
		SetUsername(m.User).SetPassword(m.Password).
		SetTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}).
		SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(200 * time.Millisecond).SetMaxReconnectInterval(time.Second).
		SetOrderMatters(false)
	o.SetDefaultPublishHandler(func(_ paho.Client, msg paho.Message) { s.add(msg.Topic(), msg.Payload()) })
	o.SetOnConnectHandler(func(c paho.Client) {
		// The session is persistent: the subscription survives, but
		// subscribing again is harmless and covers a broker that lost it.
		c.Subscribe(topic, 1, nil)
	})
	s.client = paho.NewClient(o)
	tok := s.client.Connect()
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber: connect: %v", tok.Error())
	}
	st := s.client.Subscribe(topic, 1, nil)
	if !st.WaitTimeout(30*time.Second) || st.Error() != nil {
		t.Fatalf("subscriber: subscribe: %v", st.Error())
	}
	t.Cleanup(func() { s.client.Disconnect(250) })
	return s
}

var subSeq atomic.Int32

func (s *subscriber) add(topic string, body []byte) {
	var env envelope
	err := json.Unmarshal(body, &env)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages++
	s.bytes += int64(len(body))
	s.byTopic[topic]++
	if err != nil {
		return
	}
	s.agents[env.AgentID]++
	ids := make([]string, 0, len(env.Events))
	for _, e := range env.Events {
		ids = append(ids, e.ID)
	}
	key := strings.Join(ids, ",")
	s.msgSeen[key]++
	if s.msgSeen[key] > 1 {
		return // the same message again: an at-least-once duplicate
	}
	s.arrivals = append(s.arrivals, time.Now()) // first copies only
	for _, e := range env.Events {
		if prev, ok := s.eventIn[e.ID]; ok && prev != key {
			s.badEvent++
		}
		s.eventIn[e.ID] = key
		s.names[e.Name]++
		switch e.Name {
		case "DroppedEventsStatistics":
			for _, p := range e.Payload {
				s.dropped += dropCount(p)
			}
		case "ProcessCreate":
			for _, p := range e.Payload {
				cl, _ := p["CommandLine"].(string)
				// A process that exited before /proc was read is reported
				// without its command line, marked EnrichmentError: not
				// lost, but its marker cannot be seen.
				// Only processes this test started count: their parent is
				// the test binary or the flood's shell (a copy named
				// fm<runID>); other processes on the host exit early too.
				ed, _ := p["ExtraDetails"].(map[string]any)
				parent, _ := ed["ParentExecutable"].(string)
				ours := strings.HasSuffix(parent, "/faulttest.test") || strings.HasSuffix(parent, "/fm"+runID)
				if _, partial := ed["EnrichmentError"]; partial && ours && !markerRE.MatchString(cl) {
					s.unmarked++
				}
				for _, mk := range markerRE.FindAllString(cl, -1) {
					s.first[mk]++
					if _, ok := s.msgOf[mk]; !ok {
						s.msgOf[mk] = key
					}
					inst := mk[:strings.LastIndexByte(mk, '-')]
					if s.perInst[inst] == nil {
						s.perInst[inst] = map[string]bool{}
					}
					s.perInst[inst][mk] = true
				}
			}
		}
	}
}

// dropCount sums a DroppedEventsStatistics item's drop counters: the
// queue's DroppedEvents and every ExtraDetails counter named "…Dropped…"
// or "…Lost…".
func dropCount(p map[string]any) int64 {
	var n int64
	if v, ok := p["DroppedEvents"].(float64); ok {
		n += int64(v)
	}
	if ed, ok := p["ExtraDetails"].(map[string]any); ok {
		for k, v := range ed {
			if !strings.Contains(k, "Dropped") && !strings.Contains(k, "Lost") {
				continue
			}
			switch v := v.(type) {
			case string:
				if x, err := strconv.ParseInt(v, 10, 64); err == nil {
					n += x
				}
			case float64:
				n += int64(v)
			}
		}
	}
	return n
}

type counts struct {
	messages, duplicates, badEvents int
	unmarked                        int
	dropped                         int64
	missing                         []string
	multi                           []string // markers in two different messages
	delivered                       int
}

// count reports how many of want were delivered.
func (s *subscriber) count(want []string) counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := counts{messages: s.messages, badEvents: s.badEvent, dropped: s.dropped, unmarked: s.unmarked}
	for _, n := range s.msgSeen {
		c.duplicates += n - 1
	}
	for _, mk := range want {
		switch n := s.first[mk]; {
		case n == 0:
			c.missing = append(c.missing, mk)
		case n > 1:
			c.multi = append(c.multi, mk)
			c.delivered++
		default:
			c.delivered++
		}
	}
	return c
}

func (s *subscriber) events(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.names[name]
}

func (s *subscriber) has(mk string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first[mk] > 0
}

func (s *subscriber) messagesNow() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messages
}

// firstArrivalAfter is the first message received at or after t.
func (s *subscriber) firstArrivalAfter(t time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.arrivals {
		if !a.Before(t) {
			return a, true
		}
	}
	return time.Time{}, false
}

// waitAll waits until every marker in want is delivered, or until
// deliveries, once they started moving during this wait, stop changing
// for quiet (a backlog drains in one stream), or timeout.
func (s *subscriber) waitAll(want []string, timeout time.Duration) counts {
	const quiet = 15 * time.Second
	deadline := time.Now().Add(timeout)
	c := s.count(want)
	last, since, moved := c.delivered, time.Now(), false
	for len(c.missing) > 0 && time.Now().Before(deadline) && !(moved && time.Since(since) > quiet) {
		time.Sleep(250 * time.Millisecond)
		c = s.count(want)
		if c.delivered != last {
			last, since, moved = c.delivered, time.Now(), true
		}
	}
	return c
}

// accountedNow is the number of events the module accounted for without
// delivering them whole: drops counted in DroppedEventsStatistics, and
// ProcessCreate events reported without their command line.
func (s *subscriber) accountedNow() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped + int64(s.unmarked)
}

// ---------------------------------------------------------------------
// The module process.

const fastConfig = `{"highPriorityMessageFrequency":{"value":"PT1S"},"lowPriorityMessageFrequency":{"value":"PT2S"},` +
	`"snapshotFrequency":{"value":"PT1H"},"heartbeatFrequency":{"value":"PT10S"},` +
	`"aggregationIntervalProcessCreate":{"value":"PT1S"},"aggregationIntervalProcessTerminate":{"value":"PT1S"},` +
	`"aggregationIntervalConnectionCreate":{"value":"PT1S"}}`

type module struct {
	t        *testing.T
	cmd      *exec.Cmd
	log      *syncBuffer
	exited   chan struct{}
	stateDir string
	args     []string
	env      []string

	peakRSS, peakThreads atomic.Int64
	stopWatch            context.CancelFunc
}

// moduleOpts configure startModule.
type moduleOpts struct {
	broker   string // mqtts URL (default the mosquitto's)
	stateDir string
	config   string // file path; default a file with fastConfig
	hostRoot string
	extra    []string
}

func startModule(t *testing.T, m *mqtttest.Mosquitto, o moduleOpts) *module {
	t.Helper()
	if o.broker == "" {
		o.broker = m.URL
	}
	if o.stateDir == "" {
		o.stateDir = t.TempDir()
	}
	if o.config == "" {
		o.config = filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(o.config, []byte(fastConfig), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"--state-dir", o.stateDir, "--mqtt", o.broker, "--config", o.config, "--log-level", "info"}
	if o.hostRoot != "" {
		args = append(args, "--host-root", o.hostRoot)
	}
	args = append(args, o.extra...)
	env := append(os.Environ(),
		"EDGESEC_MQTT_USERNAME="+m.User, "EDGESEC_MQTT_PASSWORD="+m.Password,
		"EDGESEC_MQTT_CA="+m.CAFile, "EDGESEC_MQTT_TOPIC=fault/{device}/{priority}",
		"EDGESEC_MQTT_CLIENT_ID=faulttest-module-"+runID+"-"+strconv.Itoa(int(subSeq.Add(1))))
	mod := &module{t: t, stateDir: o.stateDir, args: args, env: env}
	mod.start()
	t.Cleanup(func() { mod.stop() })
	return mod
}

func (mod *module) start() {
	mod.t.Helper()
	mod.log = &syncBuffer{}
	mod.cmd = exec.Command(moduleBin, mod.args...)
	mod.cmd.Env = mod.env
	mod.cmd.Stdout, mod.cmd.Stderr = mod.log, mod.log
	if err := mod.cmd.Start(); err != nil {
		mod.t.Fatalf("start module: %v", err)
	}
	mod.exited = make(chan struct{})
	cmd, exited := mod.cmd, mod.exited
	go func() { _ = cmd.Wait(); close(exited) }()
	ctx, cancel := context.WithCancel(context.Background())
	mod.stopWatch = cancel
	pid := cmd.Process.Pid
	go func() {
		tk := time.NewTicker(200 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-exited:
				return
			case <-tk.C:
			}
			rss, thr := procStatus(pid)
			for cur := mod.peakRSS.Load(); rss > cur && !mod.peakRSS.CompareAndSwap(cur, rss); cur = mod.peakRSS.Load() {
			}
			for cur := mod.peakThreads.Load(); thr > cur && !mod.peakThreads.CompareAndSwap(cur, thr); cur = mod.peakThreads.Load() {
			}
		}
	}()
}

// procStatus returns VmRSS in bytes and the thread count of pid.
func procStatus(pid int) (rss, threads int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			v, _ := strconv.ParseInt(f[1], 10, 64)
			rss = v * 1024
		case "Threads:":
			threads, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return rss, threads
}

func (mod *module) running() bool {
	select {
	case <-mod.exited:
		return false
	default:
		return true
	}
}

// kill9 kills the module with SIGKILL and waits for it.
func (mod *module) kill9() {
	_ = mod.cmd.Process.Signal(syscall.SIGKILL)
	<-mod.exited
	mod.stopWatch()
}

// stop sends SIGTERM and waits (SIGKILL after 30 s).
func (mod *module) stop() {
	if mod.cmd == nil || !mod.running() {
		return
	}
	_ = mod.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-mod.exited:
	case <-time.After(30 * time.Second):
		mod.t.Errorf("module did not stop within 30 s of SIGTERM")
		_ = mod.cmd.Process.Kill()
		<-mod.exited
	}
	mod.stopWatch()
}

// waitLog waits until the module logs a line containing sub.
func (mod *module) waitLog(sub string, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if strings.Contains(mod.log.String(), sub) {
			return true
		}
	}
	return false
}

// logLines returns the module's log lines containing any of subs.
func (mod *module) logLines(subs ...string) []string {
	var out []string
	for _, l := range strings.Split(mod.log.String(), "\n") {
		for _, s := range subs {
			if strings.Contains(l, s) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Keep at most 32 MiB: a logging loop must not exhaust the test.
	if s.b.Len() > 32<<20 {
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ---------------------------------------------------------------------
// Load: processes with a unique marker in their command line.

type load struct {
	done    chan struct{}
	mu      sync.Mutex
	markers []string
	at      []time.Time
}

// wait waits for the load's goroutine to end (after its ctx is done).
func (l *load) wait() { <-l.done }

func (l *load) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.markers...)
}

// before returns the markers started before t.
func (l *load) before(t time.Time) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for i, a := range l.at {
		if a.Before(t) {
			out = append(out, l.markers[i])
		}
	}
	return out
}

func marker(scenario string, i int) string {
	return fmt.Sprintf("FM%s-%s-%d", runID, scenario, i)
}

// execSteady runs /bin/true MARKER at rate per second until ctx ends.
func execSteady(ctx context.Context, scenario string, rate int) *load {
	l := &load{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tk := time.NewTicker(time.Second / time.Duration(rate))
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			mk := marker(scenario, i)
			if err := exec.Command("/bin/true", mk).Run(); err != nil {
				continue
			}
			l.mu.Lock()
			l.markers = append(l.markers, mk)
			l.at = append(l.at, time.Now())
			l.mu.Unlock()
		}
	}()
	return l
}

// execOne runs one marked process and returns its marker.
func execOne(t *testing.T, scenario string, i int) string {
	t.Helper()
	mk := marker(scenario, i)
	if err := exec.Command("/bin/true", mk).Run(); err != nil {
		t.Fatal(err)
	}
	return mk
}

// waitDelivery runs marked processes every second until one is delivered,
// and returns how long that took.
func waitDelivery(t *testing.T, s *subscriber, scenario string, timeout time.Duration) (time.Duration, bool) {
	t.Helper()
	start := time.Now()
	var sent []string
	for i := 0; time.Since(start) < timeout; i++ {
		sent = append(sent, execOne(t, scenario, 1_000_000+i))
		for _, mk := range sent {
			if s.has(mk) {
				return time.Since(start), true
			}
		}
		time.Sleep(time.Second)
	}
	s.mu.Lock()
	t.Logf("waitDelivery %s: nothing after %v; the subscriber has %d messages, markers %d", scenario, timeout, s.messages, len(s.first))
	s.mu.Unlock()
	return time.Since(start), false
}

// ---------------------------------------------------------------------
// A TCP proxy in front of the broker that can black-hole connections,
// delay what the broker sends, or drop connections.

type proxyMode int32

const (
	modePass      proxyMode = iota
	modeBlackhole           // accept, read and discard, never answer
	modeDelay               // forward, the broker's bytes delayed by delay
	modeDrop                // close each new connection at once
)

type proxy struct {
	ln     net.Listener
	target string
	mode   atomic.Int32
	delay  atomic.Int64
	// dropEvery: in modePass, drop every n-th new connection (0: none).
	dropEvery atomic.Int32

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	accepts []time.Time
	dropped int
	wg      sync.WaitGroup
	closed  bool
}

func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *proxy) set(m proxyMode, delay time.Duration) {
	p.delay.Store(int64(delay))
	p.mode.Store(int32(m))
}

// cut closes every open connection (a network change).
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// acceptsPerSecond counts accepted connections per second from t0.
func (p *proxy) acceptsPerSecond(t0 time.Time, secs int) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int, secs)
	for _, a := range p.accepts {
		if i := int(a.Sub(t0) / time.Second); a.After(t0) && i < secs {
			out[i]++
		}
	}
	return out
}

func (p *proxy) serve() {
	defer p.wg.Done()
	n := 0
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		n++
		p.mu.Lock()
		p.accepts = append(p.accepts, time.Now())
		p.mu.Unlock()
		mode := proxyMode(p.mode.Load())
		if mode == modeDrop || (mode == modePass && p.dropEvery.Load() > 0 && n%int(p.dropEvery.Load()) == 0) {
			p.mu.Lock()
			p.dropped++
			p.mu.Unlock()
			c.Close()
			continue
		}
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			if mode == modeBlackhole {
				_, _ = io.Copy(io.Discard, c)
				return
			}
			up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil {
				return
			}
			if !p.track(up) {
				return
			}
			defer p.untrack(up)
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(up, c); up.Close(); done <- struct{}{} }()
			go func() { p.delayedCopy(c, up, mode); c.Close(); done <- struct{}{} }()
			<-done
			<-done
		}()
	}
}

// delayedCopy copies src to dst, each chunk held for the proxy's delay
// when mode is modeDelay.
func (p *proxy) delayedCopy(dst, src net.Conn, mode proxyMode) {
	if mode != modeDelay {
		_, _ = io.Copy(dst, src)
		return
	}
	type chunk struct {
		at time.Time
		b  []byte
	}
	ch := make(chan chunk, 1024)
	go func() {
		defer close(ch)
		for {
			b := make([]byte, 32<<10)
			n, err := src.Read(b)
			if n > 0 {
				ch <- chunk{time.Now(), b[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range ch {
		time.Sleep(time.Until(c.at.Add(time.Duration(p.delay.Load()))))
		if _, err := dst.Write(c.b); err != nil {
			src.Close()
			for range ch {
			}
			return
		}
	}
}
