package iothub_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/mqtttest"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/iothub"
	"github.com/edgesec/edgesec/twinconfig"
)

// syncLog is a slog destination tests can read.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func fastOptions(id iothub.Identity, log *syncLog) iothub.Options {
	o := iothub.Options{Identity: id, ClientVersion: "1.2.3", KeepAlive: 30 * time.Second,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond, TwinTimeout: 5 * time.Second,
		// A connection lost right after CONNACK can go unnoticed by paho:
		// the set-up then ends by this timeout (see mqttconn.ErrSetupTimeout).
		ConnectTimeout: 3 * time.Second}
	if log != nil {
		o.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return o
}

// connStringClient connects to h with its connection string and CA file.
func connStringClient(t *testing.T, h *mqtttest.Hub, log *syncLog, tweak func(*iothub.Options)) *iothub.Client {
	t.Helper()
	caFile := h.CA().WriteCert(t, t.TempDir())
	id, err := iothub.IdentityFromConnectionString(h.ConnectionString(), "", caFile)
	require.NoError(t, err)
	o := fastOptions(id, log)
	if tweak != nil {
		tweak(&o)
	}
	c, err := iothub.New(o)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, c.Close(ctx))
	})
	return c
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// watcher collects what a TwinSource delivers.
type watcher struct {
	mu   sync.Mutex
	docs [][]byte
	errs []error
}

func watch(t *testing.T, c *iothub.Client) *watcher {
	w := &watcher{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Twin().Watch(ctx, func(doc []byte, err error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			if err != nil {
				w.errs = append(w.errs, err)
				return
			}
			w.docs = append(w.docs, doc)
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

func (w *watcher) last() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.docs) == 0 {
		return nil
	}
	return w.docs[len(w.docs)-1]
}

func (w *watcher) lastConfig(t *testing.T) (twinconfig.Config, bool) {
	doc := w.last()
	if doc == nil {
		return twinconfig.Config{}, false
	}
	cfg, probs, err := twinconfig.Decode(doc)
	require.NoError(t, err)
	require.Empty(t, probs, "%s", doc)
	return cfg, true
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func securityMessage(t *testing.T, size int, p event.Priority) transport.Message {
	body := []byte(`{"AgentVersion":"1","Events":[],"pad":"` + strings.Repeat("x", max(0, size-40)) + `"}`)
	return transport.NewSecurityMessage(body, p, time.Now())
}

const objectName = twinconfig.ObjectName

func desiredPatch(key string, value any) string {
	b, _ := json.Marshal(map[string]any{objectName: map[string]any{key: map[string]any{"value": value}}})
	return string(b)
}

// TestEdgeEnvironment runs the whole IoT Edge path: environment variables →
// workload API signs → TLS verified with the trust bundle → CONNECT checked by
// the hub (SAS signature with the known key) → twin read → telemetry.
func TestEdgeEnvironment(t *testing.T) {
	h := mqtttest.StartHub(t, mqtttest.HubOptions{Desired: json.RawMessage(desiredPatch("eventPriorityListeningPorts", "Off"))})
	key, err := base64.StdEncoding.DecodeString(h.KeyBase64())
	require.NoError(t, err)
	wl := mqtttest.StartWorkload(t, h.Options().ModuleID, "gen-1", key, h.CA().CertPEM)
	env := wl.Env(h)
	require.True(t, iothub.InEdgeEnvironment(func(k string) string { return env[k] }))
	id, err := iothub.IdentityFromEnvironment(func(k string) string { return env[k] })
	require.NoError(t, err)
	log := &syncLog{}
	c, err := iothub.New(fastOptions(id, log))
	require.NoError(t, err)
	defer c.Close(context.Background())
	w := watch(t, c)

	require.NoError(t, c.WaitConnected(ctxT(t, 10*time.Second)))
	assert.Positive(t, wl.Signs.Load(), "tokens are signed by the workload API")

	conns := h.Connects()
	require.NotEmpty(t, conns)
	cn := conns[0]
	assert.True(t, cn.Accepted, cn.Reason)
	assert.Equal(t, "edgedevice/edgesec", cn.ClientID, "client id {device}/{module}")
	assert.Equal(t, "testhub.azure-devices.net/edgedevice/edgesec/?api-version=2021-04-12&DeviceClientType=edgesec%2F1.2.3", cn.Username,
		"username uses the hub name though the connection goes to the gateway")
	assert.Equal(t, "edgesec/1.2.3", cn.ClientType)
	assert.Equal(t, byte(4), cn.Protocol, "MQTT 3.1.1")
	assert.False(t, cn.Clean, "clean session false")
	assert.Equal(t, uint16(30), cn.KeepAlive)
	assert.Equal(t, "testhub.azure-devices.net/devices/edgedevice/modules/edgesec", cn.ResourceSeen)
	assert.WithinDuration(t, time.Now().Add(time.Hour), cn.TokenExpiry, time.Minute, "default token lifetime 1 h")

	// The twin is read after subscribing, and delivered in the shape
	// twinconfig.Decode reads, with its version.
	waitUntil(t, 5*time.Second, "desired properties", func() bool { return w.last() != nil })
	cfg, _ := w.lastConfig(t)
	assert.Equal(t, int64(1), cfg.Version)
	assert.Equal(t, event.Off, cfg.Priority(event.ListeningPorts))

	m := securityMessage(t, 1000, event.High)
	require.NoError(t, c.Send(ctxT(t, 10*time.Second), m))
	msgs := h.Messages()
	require.Len(t, msgs, 1, "Send returned after the PUBACK, so the hub has the message")
	got := msgs[0]
	assert.True(t, strings.HasPrefix(got.Topic, "devices/edgedevice/modules/edgesec/messages/events/"), got.Topic)
	assert.Equal(t, map[string]string{
		"$.ifid": "urn:azureiot:Security:SecurityAgent:1", "$.ct": "application/json", "$.ce": "utf-8",
		"$.mid": m.ID, "MessagePriority": "High",
	}, got.Properties)
	assert.Equal(t, m.Body, got.Body)
	assert.Contains(t, got.Topic, "$.ifid=urn%3Aazureiot%3ASecurity%3ASecurityAgent%3A1", "RFC 3986 encoding")
	assert.Empty(t, h.Violations())
	assert.NotContains(t, log.String(), "SharedAccessSignature", "tokens are never logged")
	assert.NotContains(t, log.String(), h.KeyBase64())
}

func TestConnectionStringThroughGateway(t *testing.T) {
	h := mqtttest.StartHub(t, mqtttest.HubOptions{})
	log := &syncLog{}
	c := connStringClient(t, h, log, nil)
	require.NoError(t, c.WaitConnected(ctxT(t, 10*time.Second)))
	require.NoError(t, c.Send(ctxT(t, 10*time.Second), securityMessage(t, 100, event.Low)))
	msgs := h.Messages()
	require.Len(t, msgs, 1)
	assert.Equal(t, "Low", msgs[0].Properties["MessagePriority"])
	assert.True(t, strings.HasPrefix(h.Connects()[0].Username, "testhub.azure-devices.net/"))
	assert.Empty(t, h.Violations())
}

func TestUntrustedServerCertificate(t *testing.T) {
	h := mqtttest.StartHub(t, mqtttest.HubOptions{})
	other := mqtttest.NewCA(t, "some other CA")
	caFile := other.WriteCert(t, t.TempDir())
	id, err := iothub.IdentityFromConnectionString(h.ConnectionString(), "", caFile)
	require.NoError(t, err)
	c, err := iothub.New(fastOptions(id, nil))
	require.NoError(t, err)
	defer c.Close(context.Background())
	err = c.WaitConnected(ctxT(t, 2*time.Second))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate", "the TLS verification failure is reported")
	assert.Empty(t, h.Connects(), "no CONNECT is sent to an unverified server")
}

// TestServerHostnameVerified: a server whose certificate the trusted CA
// signed, but for another host name, is refused (hostname verification,
// not only chain verification).
func TestServerHostnameVerified(t *testing.T) {
	h := mqtttest.StartHub(t, mqtttest.HubOptions{})
	cert := h.CA().Issue(t, "not-the-gateway.example", []string{"not-the-gateway.example"}, false)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert.TLS}})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	handshakes := make(chan error, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			handshakes <- c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	_, port, err := net.SplitHostPort(l.Addr().String())
	require.NoError(t, err)
	caFile := h.CA().WriteCert(t, t.TempDir())
	id, err := iothub.IdentityFromConnectionString(h.ConnectionString(), "localhost:"+port, caFile)
	require.NoError(t, err)
	c, err := iothub.New(fastOptions(id, nil))
	require.NoError(t, err)
	defer c.Close(context.Background())
	err = c.WaitConnected(ctxT(t, 2*time.Second))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not-the-gateway.example, not localhost", "the host name mismatch is reported")
	select {
	case herr := <-handshakes:
		assert.Error(t, herr, "the client aborted the handshake")
	case <-time.After(5 * time.Second):
		t.Fatal("the client never reached the server")
	}
	assert.Empty(t, h.Connects())
}

func TestOversizeMessageIsPermanent(t *testing.T) {
	h := mqtttest.StartHub(t, mqtttest.HubOptions{})
	c := connStringClient(t, h, nil, nil)
	require.NoError(t, c.WaitConnected(ctxT(t, 10*time.Second)))

	// Find the largest body whose packet is exactly the limit.
	m := securityMessage(t, 1000, event.Low)
	base := len(topicOf(m))
	n := iothub.MaxPacketSize - iothub.PacketSize(topicOf(m), 0, 1)
	for iothub.PacketSize(topicOf(m), n, 1) > iothub.MaxPacketSize {
		n-- // the remaining-length field grows by a byte or two
	}
	m.Body = bytes.Repeat([]byte("a"), n)
	require.Equal(t, iothub.MaxPacketSize, iothub.PacketSize(topicOf(m), len(m.Body), 1), "topic %d bytes", base)
	require.NoError(t, c.Send(ctxT(t, 10*time.Second), m), "a packet of exactly 256 KiB is accepted")
	require.Len(t, h.Messages(), 1)
	assert.Equal(t, iothub.MaxPacketSize, h.Messages()[0].PacketSize)

	m.Body = append(m.Body, 'a')
	err := c.Send(ctxT(t, 10*time.Second), m)
	require.Error(t, err)
	assert.True(t, transport.IsPermanent(err), "one byte over is refused permanently: %v", err)
	assert.Len(t, h.Messages(), 1)
	assert.Empty(t, h.Rejections(), "the client never sent it")
}

// topicOf is the topic the client uses for m (the property bag is
// deterministic).
func topicOf(m transport.Message) string {
	props := map[string]string{}
	for k, v := range m.Properties {
		props[k] = v
	}
	props["MessagePriority"] = m.Priority.String()
	return "devices/edgedevice/modules/edgesec/messages/events/" + iothub.PropertyBag(props)
}

func TestDesiredPatches(t *testing.T) {
	h := mqtttest.StartHub(t, mqtttest.HubOptions{})
	c := connStringClient(t, h, nil, nil)
	w := watch(t, c)
	require.NoError(t, c.WaitConnected(ctxT(t, 10*time.Second)))
	waitUntil(t, 5*time.Second, "twin", func() bool { return w.last() != nil })
	cfg, _ := w.lastConfig(t)
	assert.Equal(t, int64(1), cfg.Version)

	v := h.UpdateDesired(desiredPatch("highPriorityMessageFrequency", "PT1M"), true)
	require.Equal(t, int64(2), v)
	waitUntil(t, 5*time.Second, "patch 2", func() bool { cfg, _ := w.lastConfig(t); return cfg.Version == 2 })
	cfg, _ = w.lastConfig(t)
	assert.Equal(t, time.Minute, cfg.HighPriorityMessageFrequency)
	getsBefore := h.TwinGets()

	// A stale patch (version not newer) is ignored.
	h.PushRawPatch(2, desiredPatch("highPriorityMessageFrequency", "PT2M"))
	h.PushRawPatch(1, desiredPatch("highPriorityMessageFrequency", "PT3M"))
	time.Sleep(300 * time.Millisecond)
	cfg, _ = w.lastConfig(t)
	assert.Equal(t, time.Minute, cfg.HighPriorityMessageFrequency, "stale patches are ignored")
	assert.Equal(t, getsBefore, h.TwinGets())

	// A gap (version 3 never delivered, 4 pushed) makes the client read the
	// twin again, and get both changes.
	h.UpdateDesired(desiredPatch("eventPriorityLocalUsers", "Off"), false)
	h.UpdateDesired(desiredPatch("lowPriorityMessageFrequency", "PT2H"), true)
	waitUntil(t, 5*time.Second, "re-GET after the gap", func() bool { cfg, _ := w.lastConfig(t); return cfg.Version == 4 })
	cfg, _ = w.lastConfig(t)
	assert.Equal(t, event.Off, cfg.Priority(event.LocalUsers), "the missed patch is picked up by the re-GET")
	assert.Equal(t, 2*time.Hour, cfg.LowPriorityMessageFrequency)
	assert.Greater(t, h.TwinGets(), getsBefore)
	assert.Empty(t, h.Violations())
}

func TestDesiredPatchWhileDisconnected(t *testing.T) {
	h := mqtttest.StartHub(t, mqtttest.HubOptions{})
	c := connStringClient(t, h, nil, nil)
	w := watch(t, c)
	require.NoError(t, c.WaitConnected(ctxT(t, 10*time.Second)))
	waitUntil(t, 5*time.Second, "twin", func() bool { return w.last() != nil })

	h.Stop()
	waitUntil(t, 5*time.Second, "client notices", func() bool { return c.Err() != nil })
	h.UpdateDesired(desiredPatch("snapshotFrequency", "PT1H"), true) // nobody to push to
	h.Restart(0)
	waitUntil(t, 10*time.Second, "re-GET on reconnect", func() bool { cfg, ok := w.lastConfig(t); return ok && cfg.Version == 2 })
	cfg, _ := w.lastConfig(t)
	assert.Equal(t, time.Hour, cfg.SnapshotFrequency)
	assert.Empty(t, h.Violations())
}

func TestReportedProperties(t *testing.T) {
	h := mqtttest.StartHub(t, mqtttest.HubOptions{})
	c := connStringClient(t, h, nil, nil)
	w := watch(t, c)
	require.NoError(t, c.WaitConnected(ctxT(t, 10*time.Second)))
	waitUntil(t, 5*time.Second, "twin", func() bool { return w.last() != nil })

	cfg := twinconfig.Default()
	cfg.SnapshotFrequency = 2 * time.Hour
	patch, err := twinconfig.Reported(cfg)
	require.NoError(t, err)
	require.NoError(t, c.ReportProperties(ctxT(t, 10*time.Second), patch))
	rep, _ := h.Reported()
	obj, ok := rep[objectName].(map[string]any)
	require.True(t, ok, "%v", rep)
	assert.Equal(t, map[string]any{"value": "PT2H"}, obj["snapshotFrequency"])

	// 429 and 5xx are retried with backoff until accepted.
	h.FailReported(429, 503)
	cfg.SnapshotFrequency = 3 * time.Hour
	patch, _ = twinconfig.Reported(cfg)
	require.NoError(t, c.ReportProperties(ctxT(t, 10*time.Second), patch), "queued for retry")
	waitUntil(t, 15*time.Second, "the retried patch", func() bool {
		rep, _ := h.Reported()
		o, _ := rep[objectName].(map[string]any)
		v, _ := o["snapshotFrequency"].(map[string]any)
		return v["value"] == "PT3H"
	})

	// 400 is permanent. (A new patch: the accepted one is not sent again.)
	h.FailReported(400)
	cfg.SnapshotFrequency = 4 * time.Hour
	patch, _ = twinconfig.Reported(cfg)
	err = c.ReportProperties(ctxT(t, 10*time.Second), patch)
	require.Error(t, err)
	assert.True(t, transport.IsPermanent(err), "%v", err)

	// Not JSON: refused before sending.
	assert.True(t, transport.IsPermanent(c.ReportProperties(context.Background(), []byte("nope"))))
	assert.Empty(t, h.Violations())
}

func TestTwinGetRetriedOnThrottling(t *testing.T) {
	h := mqtttest.StartHub(t, mqtttest.HubOptions{})
	h.FailTwinGets(429, 500)
	c := connStringClient(t, h, nil, nil)
	w := watch(t, c)
	waitUntil(t, 15*time.Second, "twin after 429 and 500", func() bool { return w.last() != nil })
	assert.Equal(t, 1, h.TwinGets())
}

// TestBrokerRestartMidStream: messages are resent after the hub restarts and
// after connections drop before the PUBACK; none is lost, and a duplicate
// always carries the same $.mid and body.
func TestBrokerRestartMidStream(t *testing.T) {
	h := mqtttest.StartHub(t, mqtttest.HubOptions{})
	c := connStringClient(t, h, nil, nil)
	require.NoError(t, c.WaitConnected(ctxT(t, 10*time.Second)))

	const n = 60
	sent := make([]transport.Message, n)
	errc := make(chan error, 1)
	go func() {
		for i := range n {
			m := securityMessage(t, 2000+i, event.Low)
			sent[i] = m
			if err := c.Send(ctxT(t, 60*time.Second), m); err != nil {
				errc <- fmt.Errorf("message %d: %w", i, err)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		errc <- nil
	}()
	waitUntil(t, 10*time.Second, "first messages", func() bool { return len(h.Messages()) >= 10 })
	h.DropNextPublishes(2)
	waitUntil(t, 10*time.Second, "more messages", func() bool { return len(h.Messages()) >= 25 })
	h.Restart(500 * time.Millisecond)
	require.NoError(t, <-errc)

	byID := map[string][]byte{}
	for _, m := range h.Messages() {
		id := m.Properties["$.mid"]
		if prev, ok := byID[id]; ok {
			assert.Equal(t, prev, m.Body, "a duplicate carries the same $.mid and body")
		}
		byID[id] = m.Body
	}
	for i, m := range sent {
		assert.Contains(t, byID, m.ID, "message %d lost", i)
	}
	assert.Empty(t, h.Violations())
}

// TestTokenRenewal: with a 30 s token lifetime the client reconnects with a
// fresh token before the hub would close the connection at expiry.
func TestTokenRenewal(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 30 s")
	}
	h := mqtttest.StartHub(t, mqtttest.HubOptions{})
	c := connStringClient(t, h, nil, func(o *iothub.Options) { o.TokenLifetime = 30 * time.Second })
	w := watch(t, c)
	require.NoError(t, c.WaitConnected(ctxT(t, 10*time.Second)))
	h.WaitFor(t, 40*time.Second, "a second connection", func() bool { return len(h.Connects()) >= 2 })
	conns := h.Connects()
	first, second := conns[0], conns[1]
	assert.True(t, second.Accepted, second.Reason)
	assert.True(t, second.At.Before(first.TokenExpiry), "reconnected before the first token expired")
	assert.InDelta(t, 24, second.At.Sub(first.At).Seconds(), 3, "at ~80%% of the lifetime")
	assert.True(t, second.TokenExpiry.After(first.TokenExpiry), "with a fresh token")
	assert.Zero(t, h.ExpiredKicks(), "the hub never had to close an expired connection")
	waitUntil(t, 5*time.Second, "twin re-read", func() bool { return h.TwinGets() >= 2 })
	require.NoError(t, c.Send(ctxT(t, 10*time.Second), securityMessage(t, 100, event.Low)))
	assert.NotNil(t, w.last())
	assert.Empty(t, h.Violations())
}

func TestWrongKeyIsFatalUntilCredentialsChange(t *testing.T) {
	h := mqtttest.StartHub(t, mqtttest.HubOptions{})
	wrong := strings.Replace(h.ConnectionString(), "SharedAccessKey="+h.KeyBase64(),
		"SharedAccessKey="+base64.StdEncoding.EncodeToString([]byte("not the module key at all")), 1)
	caFile := h.CA().WriteCert(t, t.TempDir())
	id, err := iothub.IdentityFromConnectionString(wrong, "", caFile)
	require.NoError(t, err)
	log := &syncLog{}
	c, err := iothub.New(fastOptions(id, log))
	require.NoError(t, err)
	defer c.Close(context.Background())

	h.WaitFor(t, 5*time.Second, "the refused CONNECT", func() bool { return len(h.Connects()) >= 1 })
	waitUntil(t, 5*time.Second, "refusal reported", func() bool { return errors.Is(c.Err(), iothub.ErrRefused) })
	err = c.Send(ctxT(t, 5*time.Second), securityMessage(t, 100, event.Low))
	require.ErrorIs(t, err, iothub.ErrRefused, "Send fails fast with a clear error")
	assert.False(t, transport.IsPermanent(err), "the message itself is fine")
	assert.Contains(t, h.Connects()[0].Reason, "signature")
	time.Sleep(3 * time.Second)
	assert.Len(t, h.Connects(), 1, "no reconnection loop with the same refused credentials")
	assert.Contains(t, log.String(), "broker refused the connection")
	assert.Contains(t, log.String(), "check the credentials")
	assert.NotContains(t, log.String(), "SharedAccessSignature")
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}
