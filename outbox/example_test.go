package outbox_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/outbox"
	"github.com/edgesec/edgesec/outbox/boltstore"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/transporttest"
)

// Wrap a transport in an outbox: Send returns once the message is stored;
// the outbox delivers it, retrying the failures.
func Example() {
	next := transporttest.NewFlaky(transporttest.NewRecorder(), transporttest.Fail, 2) // down for two sends
	ob, err := outbox.New(next, outbox.Options{Store: outbox.NewMemoryStore(1 << 20), MinBackoff: time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	for i := range 3 {
		m := transport.NewSecurityMessage(fmt.Appendf(nil, `{"n":%d}`, i), event.Low, time.Now())
		if err := ob.Send(ctx, m); err != nil {
			fmt.Println(err)
		}
	}
	deadline, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fmt.Println("left:", ob.Drain(deadline))
	_ = ob.Close(deadline)
	st := ob.Stats()
	fmt.Println("sent:", st.Sent, "failed attempts:", st.Failed)
	// Output:
	// left: 0
	// sent: 3 failed attempts: 2
}

// A durable outbox keeps the messages in a bbolt file across restarts.
func Example_durable() {
	dir, err := os.MkdirTemp("", "outbox-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	st, err := boltstore.Open(filepath.Join(dir, "spool.db"), boltstore.Options{MaxBytes: 16 << 20})
	if err != nil {
		fmt.Println(err)
		return
	}
	rec := transporttest.NewRecorder()
	ob, err := outbox.New(rec, outbox.Options{Store: st})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = ob.Send(ctx, transport.NewSecurityMessage([]byte(`{}`), event.High, time.Now()))
	_ = ob.Close(ctx) // drains, then closes the store and the recorder
	fmt.Println(rec.Len(), rec.Closed())
	// Output:
	// 1 true
}
