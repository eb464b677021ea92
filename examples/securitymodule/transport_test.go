package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/internal/mqtttest"
	"github.com/edgesec/edgesec/transport/iothub"
)

// With both a connection string and the IoT Edge variables set, the
// module uses the connection string, as the official SDKs'
// fromEnvironment do. The workload API here signs with a wrong key: had
// it been used, the hub would refuse the connection.
func TestConnectionStringWinsOverEdgeEnvironment(t *testing.T) {
	h := mqtttest.StartHub(t, mqtttest.HubOptions{})
	wl := mqtttest.StartWorkload(t, h.Options().ModuleID, "gen-1", []byte("not the module key"), h.CA().CertPEM)
	for k, v := range wl.Env(h) {
		t.Setenv(k, v)
	}
	t.Setenv("EdgeHubConnectionString", h.ConnectionString())
	t.Setenv("EdgeModuleCACertificateFile", h.CA().WriteCert(t, t.TempDir()))

	tr, sources, how, err := selectTransport(options{}, "test", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	c, ok := tr.(*iothub.Client)
	require.True(t, ok, "transport %T", tr)
	defer c.Close(context.Background())
	assert.Len(t, sources, 1, "the module twin")
	assert.Contains(t, how, "EdgeHubConnectionString")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.WaitConnected(ctx), "connects: %+v", h.Connects())
	assert.True(t, h.Connects()[0].Accepted)
	assert.Zero(t, wl.Signs.Load(), "the workload API is not used")
}
