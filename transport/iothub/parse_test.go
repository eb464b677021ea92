package iothub_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/internal/mqtttest"
	"github.com/edgesec/edgesec/transport/iothub"
)

func TestParseConnectionString(t *testing.T) {
	cs, err := iothub.ParseConnectionString("HostName=hub.azure-devices.net;DeviceId=dev;ModuleId=mod;SharedAccessKey=abc/def+gh==;GatewayHostName=edge.local")
	require.NoError(t, err)
	assert.Equal(t, iothub.ConnectionString{HostName: "hub.azure-devices.net", DeviceID: "dev", ModuleID: "mod",
		SharedAccessKey: "abc/def+gh==", GatewayHostName: "edge.local"}, cs, "split on the first '=' only")

	_, err = iothub.ParseConnectionString("HostName=h;DeviceId=d")
	require.ErrorContains(t, err, "SharedAccessKey")
	_, err = iothub.ParseConnectionString("HostName=h;DeviceId=d;SharedAccessKey=secretkey;SharedAccessKey=x")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "secretkey")
	_, err = iothub.ParseConnectionString("HostName=h;DeviceId=d;garbage-with-a-secret")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "secret")

	_, err = iothub.IdentityFromConnectionString("HostName=h;DeviceId=d;SharedAccessKey=AAAA", "", "")
	assert.ErrorContains(t, err, "ModuleId")
	_, err = iothub.IdentityFromConnectionString("HostName=h;DeviceId=d;ModuleId=m;SharedAccessKey=!!", "", "")
	assert.ErrorContains(t, err, "base64")
}

func TestEscapeAndPropertyBag(t *testing.T) {
	assert.Equal(t, "a%20b%2Bc%2F%3A%26%3D~._-", iothub.Escape("a b+c/:&=~._-"))
	bag := iothub.PropertyBag(map[string]string{"$.mid": "id 1", "$.ifid": "urn:x", "z key": "v+w", "a": "é"})
	assert.Equal(t, "$.mid=id%201&$.ifid=urn%3Ax&a=%C3%A9&z%20key=v%2Bw", bag, "system properties first, never '+'")
	props, err := mqtttest.ParsePropertyBag(bag)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"$.mid": "id 1", "$.ifid": "urn:x", "z key": "v+w", "a": "é"}, props)
}

func TestPacketSize(t *testing.T) {
	// fixed header 1 + remaining-length 1 + topic length 2 + "a/b" 3 + id 2 + payload 10
	assert.Equal(t, 19, iothub.PacketSize("a/b", 10, 1))
	assert.Equal(t, 17, iothub.PacketSize("a/b", 10, 0))
	assert.Equal(t, 1+2+2+1+2+200, iothub.PacketSize("t", 200, 1), "two-byte remaining length")
}

func TestSASTokenVerifiesWithTheKey(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	s, err := iothub.NewKeySigner(base64.StdEncoding.EncodeToString(key))
	require.NoError(t, err)
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	res := iothub.ModuleResource("hub.azure-devices.net", "dev:1", "mod")
	tok, err := iothub.SASToken(context.Background(), s, res, "", exp)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(tok, "SharedAccessSignature sr=hub.azure-devices.net%2Fdevices%2Fdev%3A1%2Fmodules%2Fmod&sig="), tok)
	gotExp, gotRes, err := mqtttest.VerifySAS(tok, key, time.Now())
	require.NoError(t, err)
	assert.Equal(t, exp, gotExp)
	assert.Equal(t, res, gotRes)
	_, _, err = mqtttest.VerifySAS(tok, []byte("other"), time.Now())
	assert.ErrorContains(t, err, "signature")
	_, _, err = mqtttest.VerifySAS(tok, key, exp.Add(time.Second))
	assert.ErrorContains(t, err, "expired")
	assert.NotContains(t, s.String(), base64.StdEncoding.EncodeToString(key))
}

func TestEnvironmentErrors(t *testing.T) {
	_, err := iothub.IdentityFromEnvironment(func(string) string { return "" })
	assert.ErrorContains(t, err, "IOTEDGE_WORKLOADURI")
	env := map[string]string{"IOTEDGE_WORKLOADURI": "unix:///x.sock", "IOTEDGE_DEVICEID": "d", "IOTEDGE_MODULEID": "m",
		"IOTEDGE_MODULEGENERATIONID": "g", "IOTEDGE_IOTHUBHOSTNAME": "h", "IOTEDGE_AUTHSCHEME": "x509"}
	_, err = iothub.IdentityFromEnvironment(func(k string) string { return env[k] })
	assert.ErrorContains(t, err, "sasToken")
}

func FuzzParseConnectionString(f *testing.F) {
	f.Add("HostName=h;DeviceId=d;ModuleId=m;SharedAccessKey=a==")
	f.Add(";;=;==;HostName")
	f.Add("hostname=h;deviceid=d;sharedaccesskey=k;GatewayHostName=g:1")
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := iothub.ParseConnectionString(s)
		if err == nil && (cs.HostName == "" || cs.DeviceID == "" || cs.SharedAccessKey == "") {
			t.Fatalf("accepted without required fields: %q", s)
		}
	})
}

func FuzzPropertyBag(f *testing.F) {
	f.Add("k", "v", "$.mid", "id")
	f.Add("a b", "c+d&e=f", "%", "%zz")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		in := map[string]string{k1: v1, k2: v2, "$.ct": "application/json"}
		bag := iothub.PropertyBag(in)
		out, err := mqtttest.ParsePropertyBag(bag)
		if err != nil {
			t.Fatalf("bag %q: %v", bag, err)
		}
		if len(out) != len(in) {
			t.Fatalf("round trip %v → %q → %v", in, bag, out)
		}
		for k, v := range in {
			if out[k] != v {
				t.Fatalf("round trip %v → %q → %v", in, bag, out)
			}
		}
	})
}
