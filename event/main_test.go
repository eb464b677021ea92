package event_test

import (
	"os"
	"testing"
	"time"
)

// goldenZone is the local time zone of every test in this package, so that
// TimestampLocal is deterministic.
var goldenZone = time.FixedZone("UTC+2", 2*60*60)

func TestMain(m *testing.M) {
	time.Local = goldenZone
	os.Exit(m.Run())
}
