package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/internal/mqtttest"
)

// TestModuleSendsToMQTT: with --mqtt (and the EDGESEC_MQTT_* variables
// for the credentials, CA and topic), the module sends its messages to a
// real mosquitto over TLS instead of stdout, where a real subscriber gets
// them.
func TestModuleSendsToMQTT(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	subBin, err := exec.LookPath("mosquitto_sub")
	if err != nil {
		t.Skip("needs mosquitto_sub: apt-get install mosquitto-clients")
	}
	sub := exec.Command(subBin, "-h", "localhost", "-p", fmt.Sprint(m.Port), "--cafile", m.CAFile,
		"-u", m.User, "-P", m.Password, "-t", "edgesec-test/#", "-q", "1", "-C", "1", "-W", "30")
	var out, errOut bytes.Buffer
	sub.Stdout, sub.Stderr = &out, &errOut
	require.NoError(t, sub.Start())
	time.Sleep(500 * time.Millisecond) // subscribed

	t.Setenv("EDGESEC_MQTT_USERNAME", m.User)
	t.Setenv("EDGESEC_MQTT_PASSWORD", m.Password)
	t.Setenv("EDGESEC_MQTT_CA", m.CAFile)
	t.Setenv("EDGESEC_MQTT_TOPIC", "edgesec-test/{priority}")
	mod := startModule(t, "--state-dir", t.TempDir(), "--mqtt", m.URL)
	require.NoError(t, sub.Wait(), "mosquitto_sub: %s", errOut.String())
	require.Equal(t, 0, mod.stop(t))

	require.Empty(t, mod.output(), "with --mqtt nothing goes to stdout")
	got := strings.TrimSpace(out.String())
	require.NotEmpty(t, got)
	validateAll(t, []string{got})
	require.NotContains(t, mod.logs(), m.Password, "the broker password never reaches the logs")
}
