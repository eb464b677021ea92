package iothub_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/transport/iothub"
)

const testKey = "c2VjcmV0LWtleS1mb3ItdGVzdHM=" // base64("secret-key-for-tests")

func edgeEnv() map[string]string {
	return map[string]string{
		iothub.EnvWorkloadURI: "unix:///run/aziot/workload.sock", iothub.EnvDeviceID: "edge-1",
		iothub.EnvModuleID: "securitymodule", iothub.EnvGenerationID: "g1",
		iothub.EnvHubHostName: "hub.azure-devices.net", iothub.EnvGatewayHostName: "edge-1.local",
	}
}

func TestFromEnvironmentPrecedence(t *testing.T) {
	cs := "HostName=hub.azure-devices.net;DeviceId=dev-cs;ModuleId=mod-cs;SharedAccessKey=" + testKey
	for _, tc := range []struct {
		name       string
		env        map[string]string
		source     string
		device     string
		gateway    string
		workloadID bool
	}{
		{"IoT Edge only", edgeEnv(), iothub.SourceWorkloadAPI, "edge-1", "edge-1.local", true},
		{"edgeHub connection string wins over IoT Edge", with(edgeEnv(), map[string]string{
			iothub.EnvEdgeHubConnectionString: cs + ";GatewayHostName=gw-from-string"}),
			iothub.SourceEdgeHubConnectionString, "dev-cs", "gw-from-string", false},
		{"GatewayHostName overrides the string's", map[string]string{
			iothub.EnvEdgeHubConnectionString: cs + ";GatewayHostName=gw-from-string", iothub.EnvGatewayHostNameCS: "gw-env"},
			iothub.SourceEdgeHubConnectionString, "dev-cs", "gw-env", false},
		{"IoT Hub connection string wins over IoT Edge", with(edgeEnv(), map[string]string{iothub.EnvIotHubConnectionString: cs}),
			iothub.SourceIotHubConnectionString, "dev-cs", "", false},
		{"edgeHub connection string wins over IoT Hub's", map[string]string{
			iothub.EnvIotHubConnectionString:  "HostName=other;DeviceId=other;ModuleId=other;SharedAccessKey=" + testKey,
			iothub.EnvEdgeHubConnectionString: cs},
			iothub.SourceEdgeHubConnectionString, "dev-cs", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, source, err := iothub.FromEnvironment(func(k string) string { return tc.env[k] })
			require.NoError(t, err)
			require.Equal(t, tc.source, source)
			require.Equal(t, tc.device, id.DeviceID)
			require.Equal(t, tc.gateway, id.GatewayHostName)
			_, isWorkload := id.Signer.(*iothub.Workload)
			require.Equal(t, tc.workloadID, isWorkload, "signer %T", id.Signer)
		})
	}
}

func with(m, more map[string]string) map[string]string {
	for k, v := range more {
		m[k] = v
	}
	return m
}

func TestFromEnvironmentNothingOrBroken(t *testing.T) {
	_, _, err := iothub.FromEnvironment(func(string) string { return "" })
	require.ErrorIs(t, err, iothub.ErrNoEnvironment)

	// Only half of the IoT Edge variables: not an IoT Edge module.
	_, _, err = iothub.FromEnvironment(func(k string) string { return map[string]string{iothub.EnvDeviceID: "d"}[k] })
	require.ErrorIs(t, err, iothub.ErrNoEnvironment)

	// A broken connection string is an error naming the variable, not
	// quoting the key, and does not fall back to the IoT Edge variables.
	env := with(edgeEnv(), map[string]string{iothub.EnvEdgeHubConnectionString: "HostName=h;DeviceId=d;SharedAccessKey=" + testKey})
	_, source, err := iothub.FromEnvironment(func(k string) string { return env[k] })
	require.Error(t, err)
	require.Equal(t, iothub.SourceEdgeHubConnectionString, source)
	require.ErrorContains(t, err, iothub.EnvEdgeHubConnectionString)
	require.NotContains(t, err.Error(), testKey)

	// A CA file that is not PEM.
	bad := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(bad, []byte("not a certificate"), 0o600))
	env = map[string]string{iothub.EnvIotHubConnectionString: "HostName=h;DeviceId=d;ModuleId=m;SharedAccessKey=" + testKey,
		iothub.EnvCACertificateFile: bad}
	_, _, err = iothub.FromEnvironment(func(k string) string { return env[k] })
	require.ErrorContains(t, err, "no PEM certificate")
}

// A module picks its identity from its environment and falls back to
// another transport when it has none.
func ExampleFromEnvironment() {
	id, source, err := iothub.FromEnvironment(os.Getenv)
	switch {
	case errors.Is(err, iothub.ErrNoEnvironment):
		fmt.Println("not a module: write to stdout instead")
		return
	case err != nil:
		fmt.Println("bad module environment:", err)
		return
	}
	c, err := iothub.New(iothub.Options{Identity: id, ClientVersion: "1.0.0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(context.Background())
	fmt.Println("identity from", source)
	// Output: not a module: write to stdout instead
}
