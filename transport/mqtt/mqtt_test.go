package mqtt_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/mqtttest"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/mqtt"
)

// subscriber is a real MQTT subscriber (paho) with a persistent session.
type subscriber struct {
	mu   sync.Mutex
	msgs []paho.Message
	c    paho.Client
}

func subscribe(t testing.TB, m *mqtttest.Mosquitto, filter string) *subscriber {
	t.Helper()
	s := &subscriber{}
	opts := paho.NewClientOptions().AddBroker(strings.Replace(m.URL, "mqtts://", "ssl://", 1)).
		SetClientID("test-subscriber").SetUsername(m.User).SetPassword(m.Password).
		SetTLSConfig(&tls.Config{RootCAs: m.CA.Pool(), MinVersion: tls.VersionTLS12}).
		SetCleanSession(false).SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).
		SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond).SetResumeSubs(true).
		SetOnConnectHandler(func(c paho.Client) { c.Subscribe(filter, 1, nil) }).
		SetDefaultPublishHandler(func(_ paho.Client, msg paho.Message) {
			s.mu.Lock()
			s.msgs = append(s.msgs, msg)
			s.mu.Unlock()
		})
	s.c = paho.NewClient(opts)
	tok := s.c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	time.Sleep(200 * time.Millisecond) // let the subscription settle
	t.Cleanup(func() { s.c.Disconnect(100) })
	return s
}

func (s *subscriber) messages() []paho.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]paho.Message(nil), s.msgs...)
}

func newTransport(t testing.TB, m *mqtttest.Mosquitto, tweak func(*mqtt.Options)) *mqtt.Transport {
	t.Helper()
	o := mqtt.Options{URL: m.URL, Username: m.User, Password: m.Password, CAFile: m.CAFile, Device: "gw1",
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond}
	if tweak != nil {
		tweak(&o)
	}
	tr, err := mqtt.New(o)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, tr.Close(ctx))
	})
	return tr
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func msg(size int, p event.Priority) transport.Message {
	return transport.NewSecurityMessage(bytes.Repeat([]byte("x"), size), p, time.Now())
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

func TestDeliveryToMosquitto(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	sub := subscribe(t, m, "edgesec/#")
	tr := newTransport(t, m, nil)
	hi, lo := msg(4096, event.High), msg(100, event.Low)
	require.NoError(t, tr.Send(ctxT(t, 10*time.Second), hi))
	require.NoError(t, tr.Send(ctxT(t, 10*time.Second), lo))
	waitUntil(t, 5*time.Second, "delivery", func() bool { return len(sub.messages()) == 2 })
	got := sub.messages()
	assert.Equal(t, "edgesec/gw1/security/high", got[0].Topic())
	assert.Equal(t, hi.Body, got[0].Payload())
	assert.Equal(t, "edgesec/gw1/security/low", got[1].Topic())
	assert.Equal(t, lo.Body, got[1].Payload())
	assert.Equal(t, byte(1), got[0].Qos(), "published at QoS 1")
}

// TestDeliveryWithMosquittoSub asserts delivery with the mosquitto_sub
// client and a custom topic template and client certificate.
func TestDeliveryWithMosquittoSub(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	subBin, err := exec.LookPath("mosquitto_sub")
	if err != nil {
		t.Skip("needs mosquitto_sub: apt-get install mosquitto-clients")
	}
	cmd := exec.Command(subBin, "-h", "localhost", "-p", fmt.Sprint(m.Port), "--cafile", m.CAFile,
		"-u", m.User, "-P", m.Password, "-t", "site/+/sec", "-q", "1", "-C", "1", "-W", "20", "-v")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	time.Sleep(500 * time.Millisecond)
	tr := newTransport(t, m, func(o *mqtt.Options) {
		o.Topic = "site/{device}/sec"
		o.CertFile, o.KeyFile = m.ClientCertFile, m.ClientKeyFile
	})
	body := `{"Events":[]}`
	require.NoError(t, tr.Send(ctxT(t, 10*time.Second), transport.NewSecurityMessage([]byte(body), event.Low, time.Now())))
	require.NoError(t, cmd.Wait(), out.String())
	assert.Equal(t, "site/gw1/sec "+body+"\n", out.String())
}

// TestClientCertificateRequired: on a listener that requires a client
// certificate, the configured certificate is presented; without it the
// broker refuses the TLS handshake.
func TestClientCertificateRequired(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	s := subscribe(t, m, "edgesec/#")
	tr := newTransport(t, m, func(o *mqtt.Options) {
		o.URL = m.MTLSURL
		o.CertFile, o.KeyFile = m.ClientCertFile, m.ClientKeyFile
	})
	require.NoError(t, tr.Send(ctxT(t, 10*time.Second), msg(100, event.High)))
	waitUntil(t, 10*time.Second, "delivery", func() bool { return len(s.messages()) == 1 })

	without := newTransport(t, m, func(o *mqtt.Options) { o.URL = m.MTLSURL })
	require.Error(t, without.WaitConnected(ctxT(t, 2*time.Second)), "connected without a client certificate")
}

func TestWrongPasswordRefused(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	tr := newTransport(t, m, func(o *mqtt.Options) { o.Password = "wrong" })
	err := tr.WaitConnected(ctxT(t, 10*time.Second))
	require.ErrorIs(t, err, mqtt.ErrRefused)
	err = tr.Send(ctxT(t, 5*time.Second), msg(10, event.Low))
	require.ErrorIs(t, err, mqtt.ErrRefused, "fails fast")
	assert.False(t, transport.IsPermanent(err))
	time.Sleep(2 * time.Second)
	assert.LessOrEqual(t, strings.Count(m.Log(), "not authorised"), 1, "no reconnection loop: %s", m.Log())
}

func TestUntrustedBroker(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	other := mqtttest.NewCA(t, "other")
	tr := newTransport(t, m, func(o *mqtt.Options) { o.CAFile = other.WriteCert(t, t.TempDir()) })
	err := tr.WaitConnected(ctxT(t, 2*time.Second))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")
}

// TestBrokerRestartMidStream: every message Send acknowledged reaches the
// subscriber although the broker restarts in the middle.
func TestBrokerRestartMidStream(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	sub := subscribe(t, m, "edgesec/#")
	tr := newTransport(t, m, nil)
	const n = 40
	sent := make([]transport.Message, n)
	errc := make(chan error, 1)
	go func() {
		for i := range n {
			sent[i] = transport.NewSecurityMessage([]byte(fmt.Sprintf(`{"n":%d}`, i)), event.Low, time.Now())
			if err := tr.Send(ctxT(t, 60*time.Second), sent[i]); err != nil {
				errc <- err
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		errc <- nil
	}()
	waitUntil(t, 10*time.Second, "first messages", func() bool { return len(sub.messages()) >= 10 })
	m.Restart(300 * time.Millisecond)
	require.NoError(t, <-errc)
	waitUntil(t, 15*time.Second, "all messages", func() bool {
		seen := map[string]bool{}
		for _, x := range sub.messages() {
			seen[string(x.Payload())] = true
		}
		for _, s := range sent {
			if !seen[string(s.Body)] {
				return false
			}
		}
		return true
	})
}

func TestOversizeIsPermanent(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	tr := newTransport(t, m, func(o *mqtt.Options) { o.MaxPacketSize = 8192 })
	err := tr.Send(ctxT(t, 5*time.Second), msg(9000, event.Low))
	assert.True(t, transport.IsPermanent(err), "%v", err)
}

func TestParseURL(t *testing.T) {
	o, err := mqtt.ParseURL("mqtts://user:p%40ss@broker.example:8883?ca=/ca.pem&cert=/c.pem&key=/k.pem&client_id=x&topic=" +
		url.QueryEscape("a/{device}/{priority}") + "&device=gw&keepalive=30s&clean_session=true")
	require.NoError(t, err)
	assert.Equal(t, mqtt.Options{URL: "mqtts://broker.example:8883", Username: "user", Password: "p@ss", CAFile: "/ca.pem",
		CertFile: "/c.pem", KeyFile: "/k.pem", ClientID: "x", Topic: "a/{device}/{priority}", Device: "gw",
		KeepAlive: 30 * time.Second, CleanSession: true}, o)
	_, err = mqtt.ParseURL("mqtts:///nohost")
	assert.Error(t, err)
	// A malformed URL's error never quotes the password.
	for _, bad := range []string{"mqtts://user:s3cretpw@broker:bad", "mqtts://user:s3cretpw@bro ker:1", "mqtts://user:s3cretpw@[::1"} {
		_, err = mqtt.ParseURL(bad)
		require.Error(t, err, bad)
		assert.NotContains(t, err.Error(), "s3cretpw")
	}
	_, err = mqtt.New(mqtt.Options{URL: "http://x:1"})
	assert.Error(t, err)
	_, err = mqtt.New(mqtt.Options{URL: "tcp://x:1", Topic: "a/#"})
	assert.Error(t, err)
}

// syncBuffer is a log destination safe for the transport's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Credentials written into Options.URL are not logged with the broker's
// address.
func TestURLCredentialsNotLogged(t *testing.T) {
	var logs syncBuffer
	tr, err := mqtt.New(mqtt.Options{URL: "tcp://edge:s3cretpw@127.0.0.1:1", Device: "gw",
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "connect failed") }, 10*time.Second, 10*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, tr.Close(ctx))
	assert.NotContains(t, logs.String(), "s3cretpw")
	assert.Contains(t, logs.String(), "127.0.0.1:1")
}
