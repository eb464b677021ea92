package backoff_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/edgesec/edgesec/internal/backoff"
)

// A retry loop: wait a growing, jittered delay between attempts, and stop
// waiting when the context is done.
func Example() {
	ctx := context.Background()
	b := backoff.Backoff{Min: time.Millisecond, Max: 8 * time.Millisecond}
	attempts := 0
	try := func() error {
		attempts++
		if attempts < 3 {
			return errors.New("not yet")
		}
		return nil
	}
	for try() != nil {
		if !backoff.Sleep(ctx, b.Next()) {
			return
		}
	}
	fmt.Println("succeeded after", attempts, "attempts")
	// Output: succeeded after 3 attempts
}
