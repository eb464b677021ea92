package iothub_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/iothub"
)

// Example connects a module the way IoT Edge runs it (or with a connection
// string when debugging), reads its twin and sends a security message.
func Example() {
	var id iothub.Identity
	var err error
	if iothub.InEdgeEnvironment(os.Getenv) {
		id, err = iothub.IdentityFromEnvironment(os.Getenv)
	} else {
		id, err = iothub.IdentityFromConnectionString(os.Getenv("EdgeHubConnectionString"),
			os.Getenv("GatewayHostName"), os.Getenv("EdgeModuleCACertificateFile"))
	}
	if err != nil {
		fmt.Println("no module identity:", err != nil)
		return
	}
	c, err := iothub.New(iothub.Options{Identity: id, ClientVersion: "1.0.0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go c.Twin().Watch(ctx, func(doc []byte, err error) { fmt.Printf("desired: %s %v\n", doc, err) })
	m := transport.NewSecurityMessage([]byte(`{"Events":[]}`), event.High, time.Now())
	fmt.Println(c.Send(ctx, m))
	// Output: no module identity: true
}
