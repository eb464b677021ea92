package transporttest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/transporttest"
)

// A transport that is down for two sends, then delivers to a Recorder.
func ExampleFlaky() {
	rec := transporttest.NewRecorder()
	tr := transporttest.NewFlaky(rec, transporttest.Fail, 2)

	m := transport.NewSecurityMessage([]byte(`{"n":1}`), event.High, time.Now())
	for attempt := 1; ; attempt++ {
		err := tr.Send(context.Background(), m)
		fmt.Printf("attempt %d: error=%v permanent=%v\n", attempt, err != nil, transport.IsPermanent(err))
		if err == nil {
			break
		}
	}
	fmt.Println(rec.Len(), "delivered:", string(rec.Messages()[0].Body))
	// Output:
	// attempt 1: error=true permanent=false
	// attempt 2: error=true permanent=false
	// attempt 3: error=false permanent=false
	// 1 delivered: {"n":1}
}
