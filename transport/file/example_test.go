package file_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/file"
)

// Messages written to standard output, one JSON document per line, ready
// for jq.
func ExampleNew() {
	tr := file.New(os.Stdout)
	defer tr.Close(context.Background())

	body := []byte(`{"AgentVersion":"1.0.0","AgentId":"9c647395-b913-4997-a732-a7fe7303b649","MessageSchemaVersion":"1.0","Events":[]}`)
	if err := tr.Send(context.Background(), transport.NewSecurityMessage(body, event.High, time.Now())); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {"AgentVersion":"1.0.0","AgentId":"9c647395-b913-4997-a732-a7fe7303b649","MessageSchemaVersion":"1.0","Events":[]}
}

// Messages appended to a file, durably: Send returns nil only after fsync.
func ExampleOpen() {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("edgesec-example-%d.jsonl", os.Getpid()))
	defer os.Remove(path)

	tr, err := file.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		body := fmt.Appendf(nil, `{"n":%d}`, i)
		if err := tr.Send(ctx, transport.Message{ID: event.NewID(), Body: body}); err != nil {
			fmt.Println(err)
		}
	}
	if err := tr.Close(ctx); err != nil {
		fmt.Println(err)
	}
	b, _ := os.ReadFile(path)
	fmt.Print(string(b))
	// Output:
	// {"n":0}
	// {"n":1}
}
