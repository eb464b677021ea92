package iothub

import (
	"errors"
	"fmt"
	"os"
)

// Environment variables of a module identity given by connection string.
const (
	// EnvEdgeHubConnectionString is a module connection string that
	// reaches IoT Hub through edgeHub (GatewayHostName in the string or
	// in EnvGatewayHostNameCS).
	EnvEdgeHubConnectionString = "EdgeHubConnectionString"
	// EnvIotHubConnectionString is a module connection string of IoT Hub.
	EnvIotHubConnectionString = "IotHubConnectionString"
	// EnvGatewayHostNameCS overrides the GatewayHostName of
	// EnvEdgeHubConnectionString.
	EnvGatewayHostNameCS = "GatewayHostName"
	// EnvCACertificateFile is a PEM file of the CA certificates that
	// verify the server of a connection string (edgeHub's certificate).
	EnvCACertificateFile = "EdgeModuleCACertificateFile"
)

// Sources of a module identity, as returned by FromEnvironment.
const (
	SourceEdgeHubConnectionString = EnvEdgeHubConnectionString
	SourceIotHubConnectionString  = EnvIotHubConnectionString
	SourceWorkloadAPI             = "IoT Edge workload API"
)

// ErrNoEnvironment is returned by FromEnvironment when the environment
// gives no module identity: neither connection string is set and the
// process is not an IoT Edge module.
var ErrNoEnvironment = errors.New("iothub: no module identity in the environment (no connection string, not an IoT Edge module)")

// FromEnvironment returns the module identity that the process's
// environment gives, and where it came from (one of the Source constants),
// choosing as the Azure IoT SDKs' ModuleClient.CreateFromEnvironment does:
//
//  1. EdgeHubConnectionString, with GatewayHostName overriding the
//     string's gateway and EdgeModuleCACertificateFile the CA that
//     verifies edgeHub's certificate;
//  2. IotHubConnectionString (EdgeModuleCACertificateFile likewise);
//  3. the IoT Edge module environment (IOTEDGE_WORKLOADURI,
//     IOTEDGE_MODULEID, … see [IdentityFromEnvironment]): SAS tokens signed
//     by the workload API, edgeHub's certificate verified with its trust
//     bundle.
//
// A connection string wins when both it and the IoT Edge variables are
// set, as in the SDKs: it is the explicit choice of whoever set it. When
// none is set it returns ErrNoEnvironment. Errors name the variable at
// fault and never quote a key. getenv is os.Getenv in production (nil
// means os.Getenv). It does no network I/O; reading the CA file is the
// only file access.
func FromEnvironment(getenv func(string) string) (Identity, string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var (
		id     Identity
		err    error
		source string
	)
	switch {
	case getenv(EnvEdgeHubConnectionString) != "":
		source = SourceEdgeHubConnectionString
		id, err = IdentityFromConnectionString(getenv(EnvEdgeHubConnectionString),
			getenv(EnvGatewayHostNameCS), getenv(EnvCACertificateFile))
	case getenv(EnvIotHubConnectionString) != "":
		source = SourceIotHubConnectionString
		id, err = IdentityFromConnectionString(getenv(EnvIotHubConnectionString),
			"", getenv(EnvCACertificateFile))
	case InEdgeEnvironment(getenv):
		source = SourceWorkloadAPI
		id, err = IdentityFromEnvironment(getenv)
	default:
		return Identity{}, "", ErrNoEnvironment
	}
	if err != nil {
		return Identity{}, source, fmt.Errorf("%s: %w", source, err)
	}
	return id, source, nil
}
