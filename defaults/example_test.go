package defaults_test

import (
	"context"
	"fmt"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/defaults"
	"github.com/edgesec/edgesec/transport/transporttest"
)

// A one-shot security snapshot of this host with the standard collectors.
func ExampleAdd() {
	rec := transporttest.NewRecorder() // a transport that keeps what it is sent
	eng := edgesec.New(edgesec.Options{AgentVersion: "1.0.0", Transport: rec})
	release := defaults.Add(eng, defaults.Options{HostRoot: "/", NoContainers: true})
	defer release()
	// eng.AddCollector(myCollector) would add yours here.
	if err := eng.Once(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("snapshot sent:", len(rec.Messages()) > 0)
	// Output: snapshot sent: true
}
