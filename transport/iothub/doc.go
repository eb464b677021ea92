// Package iothub is an Azure IoT Hub / IoT Edge Hub module client over
// MQTT 3.1.1 (github.com/eclipse/paho.mqtt.golang; edgeHub speaks nothing
// else), written from the protocol because there is no Azure IoT Go SDK.
//
// A [Client] is a transport.Transport for security messages and carries
// the module twin: ReportProperties publishes the effective configuration,
// and [Client.Twin] returns a configuration source (Watch) that delivers the
// desired properties to the engine, as the retired azureiotsecurity module
// was configured.
//
// # Identity
//
// [IdentityFromEnvironment] reads the variables IoT Edge gives a module
// (IOTEDGE_WORKLOADURI, IOTEDGE_DEVICEID, IOTEDGE_MODULEID,
// IOTEDGE_MODULEGENERATIONID, IOTEDGE_IOTHUBHOSTNAME,
// IOTEDGE_GATEWAYHOSTNAME, IOTEDGE_APIVERSION, IOTEDGE_AUTHSCHEME=sasToken):
// SAS tokens are signed by the workload API over its unix socket
// (POST /modules/{m}/genid/{g}/sign) and edgeHub's certificate is verified
// against the workload API's trust bundle. [IdentityFromConnectionString]
// reads a module connection string (EdgeHubConnectionString or
// IotHubConnectionString, with GatewayHostName and an optional CA file);
// the key signs the tokens, and a SharedAccessKeyName (a shared access
// policy's key) is sent as the token's skn. When both are set, the official
// SDKs (and the reference module) use the connection string. TLS is 1.2 or
// later with host name verification, always.
//
// # Protocol
//
//   - client id {device}/{module}; username
//     {hub}/{device}/{module}/?api-version=2021-04-12&DeviceClientType=edgesec%2F<version>
//     (the hub's name, even through a gateway); password a SAS token for
//     {hub}/devices/{device}/modules/{module}, valid Options.TokenLifetime
//     (1 h), signed once and reused by every connection attempt until the
//     client reconnects with a fresh token after 80% of it (a workload API
//     signature may be a TPM or HSM operation).
//     Clean session false, keep-alive Options.KeepAlive.
//   - telemetry on devices/{d}/modules/{m}/messages/events/ followed by the
//     property bag ($.mid, $.ct, $.ce, $.ifid, then application properties
//     such as MessagePriority), RFC 3986-encoded; QoS 1, Send returns nil
//     after the PUBACK; packets over 256 KiB are refused permanently.
//   - twin: on every (re)connection subscribe to $iothub/twin/res/# and
//     $iothub/twin/PATCH/properties/desired/#, then GET the twin; desired
//     patches are merged only when their $version is newer, and a version
//     gap makes the client read the twin again; reported patches go to
//     $iothub/twin/PATCH/properties/reported/?$rid=…, 204 accepted, 400
//     rejected (permanent), 429 and 5xx retried with backoff; a patch
//     identical to the last accepted one is not sent again.
//   - reconnection with exponential backoff and jitter up to 60 s; a CONNACK
//     refusing the credentials is logged as an error and not retried until
//     the credentials change (or Options.AuthRetry passes).
//
// Keys and tokens are never logged. The client needs no privilege beyond
// access to the workload socket (IoT Edge mounts it into every module) or
// the connection string.
package iothub
