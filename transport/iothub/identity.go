package iothub

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Identity is who the client is and how it proves it.
type Identity struct {
	// HubHostName is the IoT Hub's host name ({hub}.azure-devices.net). It
	// is the first segment of the MQTT username and of the SAS token's
	// resource even when the client connects through a gateway.
	HubHostName string
	// DeviceID and ModuleID name the module identity.
	DeviceID, ModuleID string
	// GatewayHostName is the edgeHub to connect to; empty means IoT Hub
	// directly. It may carry a port ("host:port"), an edgesec extension
	// for tests and non-standard deployments; the default port is 8883.
	GatewayHostName string
	// Signer signs SAS tokens.
	Signer Signer
	// KeyName is the name of the shared access policy whose key Signer
	// holds (a connection string's SharedAccessKeyName); empty for the
	// module's own key. The SAS token then carries it as skn, without which
	// IoT Hub verifies the signature with the module key and refuses the
	// connection (CONNACK 5), as both official SDKs do.
	KeyName string
	// RootCAs returns the certificates that verify the server's TLS
	// certificate; it is called before every connection (so a renewed
	// trust bundle is picked up). nil means the system roots.
	RootCAs func(ctx context.Context) (*x509.CertPool, error)
}

// Signer computes the SAS signature of a string: base64(HMAC-SHA256(key,
// stringToSign)). It must be safe for concurrent use.
type Signer interface {
	Sign(ctx context.Context, stringToSign string) (string, error)
}

// KeySigner signs with a shared access key (the base64 key of a connection
// string).
type KeySigner struct {
	key []byte
}

// NewKeySigner decodes a base64 shared access key.
func NewKeySigner(base64Key string) (*KeySigner, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(base64Key))
	if err != nil {
		return nil, fmt.Errorf("iothub: shared access key is not base64: %w", err)
	}
	if len(k) == 0 {
		return nil, errors.New("iothub: empty shared access key")
	}
	return &KeySigner{key: k}, nil
}

// Sign implements Signer.
func (s *KeySigner) Sign(_ context.Context, stringToSign string) (string, error) {
	return SignWithKey(s.key, stringToSign), nil
}

// String hides the key.
func (s *KeySigner) String() string { return "KeySigner{key: <redacted>}" }

// SignWithKey returns base64(HMAC-SHA256(key, stringToSign)).
func SignWithKey(key []byte, stringToSign string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ModuleResource returns the SAS token resource of a module identity:
// {hub}/devices/{device}/modules/{module}.
func ModuleResource(hub, device, module string) string {
	return hub + "/devices/" + device + "/modules/" + module
}

// SASToken builds a shared access signature for resource, valid until
// expiry:
//
//	SharedAccessSignature sr={enc(resource)}&sig={enc(signature)}&se={expiry}[&skn={keyName}]
//
// where the signature is signer's over enc(resource) + "\n" + expiry
// (seconds since the epoch) and enc is RFC 3986 percent-encoding.
func SASToken(ctx context.Context, signer Signer, resource, keyName string, expiry time.Time) (string, error) {
	sr := Escape(resource)
	se := strconv.FormatInt(expiry.Unix(), 10)
	sig, err := signer.Sign(ctx, sr+"\n"+se)
	if err != nil {
		return "", fmt.Errorf("iothub: signing SAS token: %w", err)
	}
	tok := "SharedAccessSignature sr=" + sr + "&sig=" + Escape(sig) + "&se=" + se
	if keyName != "" {
		tok += "&skn=" + Escape(keyName)
	}
	return tok, nil
}

// credentialID identifies the key that signed a token without revealing
// it: a hash of the token. Two tokens of the same resource, key name and
// expiry are equal exactly when the same key signed them.
func credentialID(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:8])
}

// ConnectionString is a parsed IoT Hub module (or device) connection
// string.
type ConnectionString struct {
	HostName            string
	DeviceID            string
	ModuleID            string
	SharedAccessKey     string
	SharedAccessKeyName string
	GatewayHostName     string
}

// ParseConnectionString parses
// "HostName=…;DeviceId=…;ModuleId=…;SharedAccessKey=…[;GatewayHostName=…]".
// Each pair is split on its first '=' only (keys end in '='). Key names are
// case-insensitive; unknown keys are ignored; HostName, DeviceId and
// SharedAccessKey are required. Error messages never include the key.
func ParseConnectionString(s string) (ConnectionString, error) {
	var cs ConnectionString
	seen := map[string]bool{}
	for i, part := range strings.Split(strings.TrimSpace(s), ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return ConnectionString{}, fmt.Errorf("iothub: connection string: part %d (%d bytes) is not key=value", i+1, len(part))
		}
		k = strings.TrimSpace(k)
		lk := strings.ToLower(k)
		if seen[lk] {
			return ConnectionString{}, fmt.Errorf("iothub: connection string: %s given twice", k)
		}
		seen[lk] = true
		switch lk {
		case "hostname":
			cs.HostName = v
		case "deviceid":
			cs.DeviceID = v
		case "moduleid":
			cs.ModuleID = v
		case "sharedaccesskey":
			cs.SharedAccessKey = v
		case "sharedaccesskeyname":
			cs.SharedAccessKeyName = v
		case "gatewayhostname":
			cs.GatewayHostName = v
		}
	}
	var missing []string
	if cs.HostName == "" {
		missing = append(missing, "HostName")
	}
	if cs.DeviceID == "" {
		missing = append(missing, "DeviceId")
	}
	if cs.SharedAccessKey == "" {
		missing = append(missing, "SharedAccessKey")
	}
	if len(missing) > 0 {
		return ConnectionString{}, fmt.Errorf("iothub: connection string lacks %s", strings.Join(missing, ", "))
	}
	return cs, nil
}

// IdentityFromConnectionString returns the identity of a module
// connection string (EdgeHubConnectionString or IotHubConnectionString).
// gatewayHostName, when not empty, overrides the string's GatewayHostName
// (the GatewayHostName environment variable). caFile, when not empty, is a
// PEM file of the CA certificates that verify the server (the
// EdgeModuleCACertificateFile variable); otherwise the system roots are
// used.
func IdentityFromConnectionString(connStr, gatewayHostName, caFile string) (Identity, error) {
	cs, err := ParseConnectionString(connStr)
	if err != nil {
		return Identity{}, err
	}
	if cs.ModuleID == "" {
		return Identity{}, errors.New("iothub: connection string has no ModuleId: a module identity is required")
	}
	signer, err := NewKeySigner(cs.SharedAccessKey)
	if err != nil {
		return Identity{}, err
	}
	id := Identity{HubHostName: cs.HostName, DeviceID: cs.DeviceID, ModuleID: cs.ModuleID,
		GatewayHostName: cs.GatewayHostName, Signer: signer, KeyName: cs.SharedAccessKeyName}
	if gatewayHostName != "" {
		id.GatewayHostName = gatewayHostName
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return Identity{}, fmt.Errorf("iothub: CA certificate file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return Identity{}, fmt.Errorf("iothub: CA certificate file %s has no PEM certificate", caFile)
		}
		id.RootCAs = func(context.Context) (*x509.CertPool, error) { return pool, nil }
	}
	return id, nil
}

// Environment variables of an IoT Edge module.
const (
	EnvWorkloadURI     = "IOTEDGE_WORKLOADURI"
	EnvDeviceID        = "IOTEDGE_DEVICEID"
	EnvModuleID        = "IOTEDGE_MODULEID"
	EnvGenerationID    = "IOTEDGE_MODULEGENERATIONID"
	EnvHubHostName     = "IOTEDGE_IOTHUBHOSTNAME"
	EnvGatewayHostName = "IOTEDGE_GATEWAYHOSTNAME"
	EnvAPIVersion      = "IOTEDGE_APIVERSION"
	EnvAuthScheme      = "IOTEDGE_AUTHSCHEME"
)

// InEdgeEnvironment reports whether getenv describes an IoT Edge module
// (IOTEDGE_WORKLOADURI and IOTEDGE_MODULEID are set).
func InEdgeEnvironment(getenv func(string) string) bool {
	return getenv(EnvWorkloadURI) != "" && getenv(EnvModuleID) != ""
}

// IdentityFromEnvironment returns the identity IoT Edge gives a module in
// its environment: SAS tokens signed by the workload API, edgeHub's
// certificate verified with the workload API's trust bundle. getenv is
// os.Getenv in production.
func IdentityFromEnvironment(getenv func(string) string) (Identity, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var missing []string
	need := func(k string) string {
		v := getenv(k)
		if v == "" {
			missing = append(missing, k)
		}
		return v
	}
	uri := need(EnvWorkloadURI)
	dev := need(EnvDeviceID)
	mod := need(EnvModuleID)
	gen := need(EnvGenerationID)
	hub := need(EnvHubHostName)
	if len(missing) > 0 {
		return Identity{}, fmt.Errorf("iothub: IoT Edge environment lacks %s", strings.Join(missing, ", "))
	}
	if s := getenv(EnvAuthScheme); s != "" && !strings.EqualFold(s, "sasToken") {
		return Identity{}, fmt.Errorf("iothub: %s=%q is not supported (only sasToken)", EnvAuthScheme, s)
	}
	w, err := NewWorkload(uri, mod, gen, getenv(EnvAPIVersion))
	if err != nil {
		return Identity{}, err
	}
	return Identity{HubHostName: hub, DeviceID: dev, ModuleID: mod, GatewayHostName: getenv(EnvGatewayHostName),
		Signer: w, RootCAs: w.TrustBundle}, nil
}
