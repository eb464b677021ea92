package detect_test

import (
	"context"
	"fmt"
	"time"

	"github.com/edgesec/edgesec/detect"
	"github.com/edgesec/edgesec/event"
)

// The stage passes events on unchanged and adds alerts after them.
func Example() {
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	s, err := detect.New(detect.Options{Clock: func() time.Time { return at }})
	if err != nil {
		fmt.Println(err)
		return
	}
	ev := event.Must(event.ProcessCreate, at, &event.ProcessCreatePayload{Executable: "/usr/bin/dash", ProcessID: 4242, ParentProcessID: 4200,
		UserID: "0", UserName: "root", CommandLine: "sh -c echo cpuminer-multi"})
	_ = s.Process(context.Background(), &ev, func(alert event.Event) {
		fmt.Println(detect.FormatLine(alert))
	})
	// Output:
	// 2026-12-06T12:00:00.000Z ALERT High IoT_CryptoMiner "Crypto coin miner image": /usr/bin/dash names the crypto miner or mining protocol "cpuminer" [pid 4242 user root]
}

// Custom alerts come from the twin (customAlerts) or from code.
func ExampleStage_Configure() {
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	s, _ := detect.New(detect.Options{NoBuiltin: true, Clock: func() time.Time { return at }})
	err := s.Configure(detect.Config{Custom: []detect.CustomAlert{
		{Type: detect.CustomConnectionToIPNotAllowed, Allow: []string{"10.0.0.0/8"}},
	}})
	fmt.Println(err)
	ev := event.Must(event.ConnectionCreate, at, &event.ConnectionCreatePayload{RemoteAddress: "203.0.113.5", RemotePort: "443",
		Direction: event.DirectionOut, Protocol: "TCP", ProcessID: 99, Executable: "/usr/bin/curl"})
	_ = s.Process(context.Background(), &ev, func(alert event.Event) { fmt.Println(detect.FormatLine(alert)) })
	// Output:
	// <nil>
	// 2026-12-06T12:00:00.000Z ALERT Low Custom_ConnectionToIpNotAllowed "Outbound connection created to an IP that isn't allowed": outbound connection to 203.0.113.5 (port 443) by /usr/bin/curl; the address is not in the custom alert's allow list [pid 99 remote 203.0.113.5]
}
