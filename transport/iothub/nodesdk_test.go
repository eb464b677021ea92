package iothub_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/mqtttest"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/iothub"
)

// nodeSDK returns the node binary and the directory of the SDK client
// script, or skips the test saying what is missing.
func nodeSDK(t *testing.T) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: cannot compare with the official Azure IoT Node SDK")
	}
	dir, err = filepath.Abs("testdata/nodesdk")
	require.NoError(t, err)
	for _, m := range []string{"azure-iot-device", "azure-iot-device-mqtt"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", m, "package.json")); err != nil {
			t.Skipf("the Node SDK module %s is not installed (run scripts/node-sdk-install)", m)
		}
	}
	return node, dir
}

// TestWireMatchesNodeSDK connects the official Azure IoT Node SDK
// (azure-iot-device with azure-iot-device-mqtt, versions pinned in
// testdata/nodesdk) and edgesec's client with the same module identity to
// the emulated hub, each sending one telemetry message with the same id,
// body and properties and reporting the same properties, and compares what
// the hub received field by field: CONNECT (client id, username, protocol,
// clean session, the SAS token's fields sr, skn, se, sig), the telemetry
// topic and its property bag, and the reported patch. Once with the
// module's own key, once with a shared access policy's key
// (SharedAccessKeyName → skn).
func TestWireMatchesNodeSDK(t *testing.T) {
	node, dir := nodeSDK(t)
	policyKey := bytes.Repeat([]byte{0x42, 0x24, 0x17}, 11)
	for _, tc := range []struct {
		name   string
		policy string
	}{{"module key", ""}, {"policy key", "device"}} {
		t.Run(tc.name, func(t *testing.T) {
			h := mqtttest.StartHub(t, mqtttest.HubOptions{Policies: map[string][]byte{"device": policyKey},
				ClientTypes: []string{"edgesec/", "azure-iot-device/"}})
			cs := h.ConnectionString()
			if tc.policy != "" {
				cs = policyConnectionString(h, tc.policy, policyKey)
			}
			caFile := h.CA().WriteCert(t, t.TempDir())
			msg := transport.NewSecurityMessage([]byte(`{"AgentVersion":"1","Events":[]}`), event.High, time.Now())
			msg.ID = "2c1e4d0a-8f0e-4a57-9d1c-3f7d6c1b9e01"
			msg.Properties[transport.PropMessageID] = msg.ID
			reported := `{"` + objectName + `":{"hubResourceId":{"value":"x"}}}`

			// The Node SDK.
			spec, err := json.Marshal(map[string]any{
				"id": msg.ID, "body": string(msg.Body),
				"contentType":     msg.Properties[transport.PropContentType],
				"contentEncoding": msg.Properties[transport.PropContentEncoding],
				"interfaceId":     msg.Properties[transport.PropInterfaceID],
				"properties":      map[string]string{iothub.PropMessagePriority: "High"},
			})
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "sdkclient.js"))
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "EDGESEC_CONNECTION_STRING="+cs, "EDGESEC_CA_FILE="+caFile,
				"EDGESEC_MESSAGE="+string(spec), "EDGESEC_REPORTED="+reported)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "Node SDK client: %s\nhub: %+v", out, h.Connects())
			h.WaitFor(t, 10*time.Second, "the Node SDK to disconnect", func() bool { return !h.Connected() })
			require.Len(t, h.Messages(), 1)
			require.Len(t, h.ReportedPatches(), 1)
			sdkConn, sdkMsg, sdkPatch := h.Connects()[0], h.Messages()[0], h.ReportedPatches()[0]
			// The SDK reads the twin before it subscribes to desired
			// patches (it subscribes when a listener is added); only
			// edgesec's violations count.
			sdkViolations := len(h.Violations())
			if sdkViolations > 0 {
				t.Logf("Node SDK, noted by the hub: %q", h.Violations())
			}

			// edgesec, the same identity.
			id, err := iothub.IdentityFromConnectionString(cs, "", caFile)
			require.NoError(t, err)
			c, err := iothub.New(fastOptions(id, nil))
			require.NoError(t, err)
			require.NoError(t, c.Send(ctxT(t, 10*time.Second), msg))
			require.NoError(t, c.ReportProperties(ctxT(t, 10*time.Second), []byte(reported)))
			require.NoError(t, c.Close(ctxT(t, 10*time.Second)))
			require.Len(t, h.Connects(), 2)
			require.Len(t, h.Messages(), 2)
			require.Len(t, h.ReportedPatches(), 2)
			ourConn, ourMsg, ourPatch := h.Connects()[1], h.Messages()[1], h.ReportedPatches()[1]

			// CONNECT.
			require.True(t, sdkConn.Accepted, "the hub refused the Node SDK: %s", sdkConn.Reason)
			require.True(t, ourConn.Accepted, "the hub refused edgesec: %s", ourConn.Reason)
			assert.Equal(t, sdkConn.ClientID, ourConn.ClientID, "client id")
			sdkUser, sdkQuery, _ := strings.Cut(sdkConn.Username, "?")
			ourUser, ourQuery, _ := strings.Cut(ourConn.Username, "?")
			assert.Equal(t, sdkUser, ourUser, "username before the query")
			sq, err := url.ParseQuery(sdkQuery)
			require.NoError(t, err)
			oq, err := url.ParseQuery(ourQuery)
			require.NoError(t, err)
			assert.Equal(t, sq.Get("api-version"), oq.Get("api-version"), "api-version")
			assert.ElementsMatch(t, mapKeys(sq), mapKeys(oq), "username query parameters")
			assert.Equal(t, sdkConn.Protocol, ourConn.Protocol, "MQTT protocol level")
			assert.Equal(t, sdkConn.Clean, ourConn.Clean, "clean session")
			assert.Equal(t, sdkConn.ResourceSeen, ourConn.ResourceSeen, "token resource")

			sf, err := mqtttest.SASFields(sdkConn.Password)
			require.NoError(t, err)
			of, err := mqtttest.SASFields(ourConn.Password)
			require.NoError(t, err)
			assert.ElementsMatch(t, mapKeys(sf), mapKeys(of), "SAS token fields")
			assert.Equal(t, sf["sr"], of["sr"], "sr, percent-encoded")
			assert.Equal(t, sf["skn"], of["skn"], "skn")
			if tc.policy != "" {
				assert.Equal(t, tc.policy, of["skn"])
			}
			for name, f := range map[string]map[string]string{"Node SDK": sf, "edgesec": of} {
				se, err := strconv.ParseInt(f["se"], 10, 64)
				require.NoError(t, err, "%s se %q: decimal seconds", name, f["se"])
				assert.InDelta(t, time.Now().Add(time.Hour).Unix(), se, 120, "%s: 1 h token", name)
				sig, err := url.PathUnescape(f["sig"])
				require.NoError(t, err)
				raw, err := base64.StdEncoding.DecodeString(sig)
				require.NoError(t, err, "%s sig: percent-encoded base64", name)
				assert.Len(t, raw, 32, "%s sig: HMAC-SHA256", name)
				assert.NotContains(t, f["sig"], "+", name)
				assert.NotContains(t, f["sig"], "/", name)
			}

			// Telemetry.
			sdkTopic, _, _ := strings.Cut(sdkMsg.Topic, "/messages/events/")
			ourTopic, _, _ := strings.Cut(ourMsg.Topic, "/messages/events/")
			assert.Equal(t, sdkTopic, ourTopic, "telemetry topic")
			assert.Equal(t, sdkMsg.Properties, ourMsg.Properties, "property bag, decoded")
			assert.Equal(t, sdkMsg.Body, ourMsg.Body, "body")
			assert.JSONEq(t, string(sdkPatch), string(ourPatch), "reported patch")
			t.Logf("Node SDK: username %q keep-alive %d topic %q", sdkConn.Username, sdkConn.KeepAlive, sdkMsg.Topic)
			t.Logf("edgesec:  username %q keep-alive %d topic %q", ourConn.Username, ourConn.KeepAlive, ourMsg.Topic)
			assert.Empty(t, h.Violations()[sdkViolations:], "edgesec")
		})
	}
}

func mapKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
