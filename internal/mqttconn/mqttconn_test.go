package mqttconn

import (
	"testing"
	"time"
)

func TestBackoffGrowsWithJitterToCap(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 60 * time.Second}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60}
	for i, w := range want {
		d := b.Next()
		hi := w * time.Second
		if d < hi/2 || d > hi {
			t.Fatalf("delay %d = %s, want in [%s, %s]", i, d, hi/2, hi)
		}
	}
	b.Reset()
	if d := b.Next(); d > time.Second {
		t.Fatalf("after Reset: %s", d)
	}
}

func TestNormalizeBroker(t *testing.T) {
	for in, want := range map[string]string{"mqtts://h:1": "ssl://h:1", "tls://h:1": "ssl://h:1", "mqtt://h:1": "tcp://h:1", "tcp://h:1": "tcp://h:1"} {
		if got, err := normalizeBroker(in); err != nil || got != want {
			t.Errorf("%s → %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"h:1", "http://h:1", "ssl://"} {
		if _, err := normalizeBroker(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestRefusalCodes(t *testing.T) {
	for code, want := range map[byte]bool{0: false, 1: false, 2: true, 3: false, 4: true, 5: true} {
		if isRefusal(code) != want {
			t.Errorf("code %d", code)
		}
	}
}
