package iothub

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParams checks what every connection attempt uses: TLS 1.2+ with
// host name verification against the gateway, the hub's name in the
// username, clean session false, a fresh token renewed at 80% of its
// lifetime.
func TestParams(t *testing.T) {
	s, err := NewKeySigner(base64.StdEncoding.EncodeToString([]byte("k")))
	require.NoError(t, err)
	c := &Client{id: Identity{HubHostName: "hub.azure-devices.net", DeviceID: "d", ModuleID: "m", GatewayHostName: "edgehub", Signer: s},
		o: Options{APIVersion: DefaultAPIVersion, ClientVersion: "9", TokenLifetime: 100 * time.Second, KeepAlive: time.Minute}}
	p, err := c.params(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "ssl://edgehub:8883", p.Broker)
	assert.Equal(t, "d/m", p.ClientID)
	assert.Equal(t, "hub.azure-devices.net/d/m/?api-version=2021-04-12&DeviceClientType=edgesec%2F9", p.Username)
	assert.False(t, p.CleanSession)
	assert.Equal(t, uint16(tls.VersionTLS12), p.TLS.MinVersion)
	assert.Equal(t, "edgehub", p.TLS.ServerName)
	assert.False(t, p.TLS.InsecureSkipVerify)
	assert.WithinDuration(t, time.Now().Add(80*time.Second), p.RenewAt, 2*time.Second)
	assert.Contains(t, p.Password, "sr=hub.azure-devices.net%2Fdevices%2Fd%2Fmodules%2Fm&")
}
