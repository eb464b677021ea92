package iothub_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/mqtttest"
	"github.com/edgesec/edgesec/transport/iothub"
)

// policyConnectionString is h's module connection string with the key of
// a shared access policy instead of the module's key.
func policyConnectionString(h *mqtttest.Hub, policy string, key []byte) string {
	o := h.Options()
	return fmt.Sprintf("HostName=%s;DeviceId=%s;ModuleId=%s;SharedAccessKeyName=%s;SharedAccessKey=%s;GatewayHostName=%s",
		o.HubHostName, o.DeviceID, o.ModuleID, policy, base64.StdEncoding.EncodeToString(key), h.GatewayHostName())
}

// A connection string with SharedAccessKeyName: the token names the policy
// (skn), or the hub verifies it with the module key and refuses it.
func TestPolicyKeyConnectionString(t *testing.T) {
	policyKey := bytes.Repeat([]byte{0x11, 0x22}, 16)
	h := mqtttest.StartHub(t, mqtttest.HubOptions{Policies: map[string][]byte{"device policy": policyKey}})
	cs := policyConnectionString(h, "device policy", policyKey)
	id, err := iothub.IdentityFromConnectionString(cs, "", h.CA().WriteCert(t, t.TempDir()))
	require.NoError(t, err)
	assert.Equal(t, "device policy", id.KeyName)
	c, err := iothub.New(fastOptions(id, nil))
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.WaitConnected(ctxT(t, 10*time.Second)), "connects: %+v", h.Connects())
	require.NoError(t, c.Send(ctxT(t, 10*time.Second), securityMessage(t, 100, event.Low)))

	cn := h.Connects()[0]
	require.True(t, cn.Accepted, cn.Reason)
	f, err := mqtttest.SASFields(cn.Password)
	require.NoError(t, err)
	assert.Equal(t, "device%20policy", f["skn"], "skn percent-encoded as the SDKs do")
	assert.Equal(t, "testhub.azure-devices.net%2Fdevices%2Fedgedevice%2Fmodules%2Fedgesec", f["sr"])
	assert.Empty(t, h.Violations())
}

// Reconnections reuse the token: the workload API signs once per token
// lifetime, not once or twice per connection attempt.
func TestWorkloadSignsOncePerToken(t *testing.T) {
	h := mqtttest.StartHub(t, mqtttest.HubOptions{})
	key, err := base64.StdEncoding.DecodeString(h.KeyBase64())
	require.NoError(t, err)
	wl := mqtttest.StartWorkload(t, h.Options().ModuleID, "gen-1", key, h.CA().CertPEM)
	env := wl.Env(h)
	id, err := iothub.IdentityFromEnvironment(func(k string) string { return env[k] })
	require.NoError(t, err)
	c, err := iothub.New(fastOptions(id, nil))
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.WaitConnected(ctxT(t, 10*time.Second)))
	// Each drop waits for the hub to have set up the session it drops:
	// a CONNECT is recorded, and the client acknowledged, before that.
	h.WaitFor(t, 10*time.Second, "the first session", func() bool { return h.Sessions() >= 1 })
	for i := 2; i <= 4; i++ {
		h.DropClients()
		h.WaitFor(t, 10*time.Second, "a reconnection", func() bool { return h.Sessions() >= i })
	}
	conns := h.Connects()
	for _, cn := range conns {
		require.True(t, cn.Accepted, cn.Reason)
		assert.Equal(t, conns[0].Password, cn.Password, "the same token for every attempt within its lifetime")
	}
	assert.Equal(t, int64(1), wl.Signs.Load(), "one workload sign request for %d connections", len(conns))
}

// While the hub refuses the token, the client signs again only every
// AuthCheck (the same token: no new attempt), and connects at once when
// the module key is rotated to the right one.
func TestWorkloadKeyRotationAfterRefusal(t *testing.T) {
	h := mqtttest.StartHub(t, mqtttest.HubOptions{})
	key, err := base64.StdEncoding.DecodeString(h.KeyBase64())
	require.NoError(t, err)
	wl := mqtttest.StartWorkload(t, h.Options().ModuleID, "gen-1", []byte("an old module key"), h.CA().CertPEM)
	env := wl.Env(h)
	id, err := iothub.IdentityFromEnvironment(func(k string) string { return env[k] })
	require.NoError(t, err)
	o := fastOptions(id, nil)
	o.AuthCheck = 200 * time.Millisecond
	c, err := iothub.New(o)
	require.NoError(t, err)
	defer c.Close(context.Background())

	waitUntil(t, 10*time.Second, "refusal", func() bool { return errors.Is(c.Err(), iothub.ErrRefused) })
	time.Sleep(time.Second)
	assert.Len(t, h.Connects(), 1, "the same key is not tried again")
	signs := wl.Signs.Load()
	assert.LessOrEqual(t, signs, int64(1+1500/200), "about one signature per AuthCheck while refused")

	wl.SetKey(key)
	h.WaitFor(t, 10*time.Second, "a connection with the rotated key", func() bool { return h.Connected() })
	last := h.Connects()[len(h.Connects())-1]
	assert.True(t, last.Accepted, last.Reason)
	assert.Len(t, h.Connects(), 2)
}

// Reporting the same properties twice (the engine does at start-up, once
// for the local configuration and once for the twin's) sends one patch.
func TestIdenticalReportedPatchSentOnce(t *testing.T) {
	h := mqtttest.StartHub(t, mqtttest.HubOptions{})
	c := connStringClient(t, h, nil, nil)
	require.NoError(t, c.WaitConnected(ctxT(t, 10*time.Second)))
	p1 := []byte(`{"` + objectName + `":{"a":{"value":1}}}`)
	p2 := []byte(`{"` + objectName + `":{"a":{"value":2}}}`)
	for _, p := range [][]byte{p1, p1, p2, p2, p1} {
		require.NoError(t, c.ReportProperties(ctxT(t, 10*time.Second), p))
	}
	h.WaitFor(t, 10*time.Second, "three patches", func() bool { return len(h.ReportedPatches()) >= 3 })
	time.Sleep(200 * time.Millisecond)
	var got []string
	for _, p := range h.ReportedPatches() {
		got = append(got, string(p))
	}
	assert.Equal(t, []string{string(p1), string(p2), string(p1)}, got)
}
