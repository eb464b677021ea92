package mqttconn

import (
	"testing"
)

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
