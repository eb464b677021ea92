package iothub_test

import (
	"fmt"
	"testing"

	"go.uber.org/goleak"

	"github.com/edgesec/edgesec/internal/mqtttest"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/iothub"
	"github.com/edgesec/edgesec/transport/transporttest"
)

// The IoT Hub client passes the transport conformance suite against the
// test hub, through a proxy that can make the hub hang.
func TestConformance(t *testing.T) {
	h := mqtttest.StartHub(t, mqtttest.HubOptions{})
	proxy := transporttest.StartProxy(t, h.Addr())
	caFile := h.CA().WriteCert(t, t.TempDir())
	transporttest.Run(t, transporttest.Config{
		New: func(t *testing.T) transport.Transport {
			id, err := iothub.IdentityFromConnectionString(h.ConnectionString(), fmt.Sprintf("localhost:%d", proxy.Port()), caFile)
			if err != nil {
				t.Fatal(err)
			}
			c, err := iothub.New(fastOptions(id, nil))
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		Delivered: func(*testing.T) [][]byte {
			var out [][]byte
			for _, m := range h.Messages() {
				out = append(out, m.Body)
			}
			return out
		},
		Hang:     func(*testing.T) func() { return proxy.Hang() },
		TooLarge: iothub.MaxPacketSize,
		// The test hub's broker runs in this process: its goroutines are the
		// peer's, not the transport's.
		LeakOptions: []goleak.Option{goleak.IgnoreAnyFunction("github.com/mochi-mqtt/server/v2.(*Server).EstablishConnection")},
	})
}
