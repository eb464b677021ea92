package mqtt_test

import (
	"context"
	"fmt"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/mqtt"
)

// Example publishes security messages to a broker given as a URL.
func Example() {
	o, err := mqtt.ParseURL("mqtts://edgesec:password@broker.example:8883?ca=/etc/edgesec/ca.pem&topic=site/{device}/{priority}&device=gw1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(o.URL, o.Username, o.CAFile, o.Topic)
	o.CAFile = "" // the system roots, for this example
	t, err := mqtt.New(o)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer t.Close(context.Background())
	fmt.Println(t.Topic(transport.NewSecurityMessage([]byte(`{}`), event.High, time.Now())))
	// Output:
	// mqtts://broker.example:8883 edgesec /etc/edgesec/ca.pem site/{device}/{priority}
	// site/gw1/high
}
