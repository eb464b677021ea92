package listening_test

import (
	"context"
	"fmt"
	"net"

	"github.com/edgesec/edgesec/collector/listening"
	"github.com/edgesec/edgesec/event"
)

// Take one ListeningPorts snapshot and find the port this example opens.
func Example() {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	evs, _ := listening.New(listening.Options{}).Poll(context.Background())
	for _, ev := range evs {
		for _, it := range ev.Payload {
			p := it.(*event.ListeningPortsPayload)
			if p.LocalPort == port {
				fmt.Println(p.Protocol, p.LocalAddress, p.ExtraDetails[listening.KeyFamily], p.ExtraDetails[listening.KeyExecutable] != "")
			}
		}
	}
	// Output: TCP 127.0.0.1 IPv4 true
}
