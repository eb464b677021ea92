package mqtt_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/edgesec/edgesec/internal/mqtttest"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/mqtt"
	"github.com/edgesec/edgesec/transport/transporttest"
)

// The MQTT transport passes the transport conformance suite against a real
// mosquitto, through a proxy that can make the broker hang.
func TestConformance(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	sub := subscribe(t, m, "conformance/#")
	proxy := transporttest.StartProxy(t, fmt.Sprintf("127.0.0.1:%d", m.Port))
	const maxPacket = 64 << 10
	transporttest.Run(t, transporttest.Config{
		New: func(t *testing.T) transport.Transport {
			tr, err := mqtt.New(mqtt.Options{URL: fmt.Sprintf("mqtts://127.0.0.1:%d", proxy.Port()), Username: m.User, Password: m.Password,
				CAFile: m.CAFile, Device: "gw1", ClientID: "conformance", Topic: "conformance/{device}/{priority}", MaxPacketSize: maxPacket,
				MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			return tr
		},
		Delivered: func(*testing.T) [][]byte {
			var out [][]byte
			for _, msg := range sub.messages() {
				out = append(out, msg.Payload())
			}
			return out
		},
		Hang:     func(*testing.T) func() { return proxy.Hang() },
		TooLarge: maxPacket,
	})
}
