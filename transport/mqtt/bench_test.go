package mqtt_test

import (
	"bytes"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/mqtttest"
	"github.com/edgesec/edgesec/transport"
)

// BenchmarkSend measures QoS 1 publishing (PUBACK awaited per message, as
// the engine sends) to a loopback mosquitto over TLS, with this transport
// and, side by side, with bare paho (Publish + Wait), what a user would
// otherwise write.
func BenchmarkSend(b *testing.B) {
	m := mqtttest.StartMosquitto(b)
	for _, size := range []int{4 << 10, 200 << 10} {
		body := bytes.Repeat([]byte("x"), size)
		name := map[int]string{4 << 10: "4KB", 200 << 10: "200KB"}[size]
		b.Run("edgesec/"+name, func(b *testing.B) {
			tr := newTransport(b, m, nil)
			ctx := ctxT(b, time.Minute)
			if err := tr.WaitConnected(ctx); err != nil {
				b.Fatal(err)
			}
			msg := transport.NewSecurityMessage(body, event.Low, time.Now())
			b.SetBytes(int64(size))
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				if err := tr.Send(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
			report(b, start, size)
		})
		b.Run("paho/"+name, func(b *testing.B) {
			opts := paho.NewClientOptions().AddBroker(strings.Replace(m.URL, "mqtts://", "ssl://", 1)).
				SetClientID("bench-paho").SetUsername(m.User).SetPassword(m.Password).
				SetTLSConfig(&tls.Config{RootCAs: m.CA.Pool(), MinVersion: tls.VersionTLS12})
			c := paho.NewClient(opts)
			if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				b.Fatal(tok.Error())
			}
			defer c.Disconnect(100)
			b.SetBytes(int64(size))
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				tok := c.Publish("bench/paho", 1, false, body)
				if tok.Wait(); tok.Error() != nil {
					b.Fatal(tok.Error())
				}
			}
			report(b, start, size)
		})
	}
}

func report(b *testing.B, start time.Time, size int) {
	secs := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N)/secs, "msgs/s")
	b.ReportMetric(float64(b.N)*float64(size)/secs, "bytes/s")
}
