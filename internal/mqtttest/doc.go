// Package mqtttest holds test helpers for edgesec's MQTT transports:
//
//   - [StartHub]: an embedded github.com/mochi-mqtt/server/v2 broker that
//     plays IoT Hub / edgeHub over TLS for one module identity (CONNECT and
//     SAS verification, telemetry with property bags, the module twin,
//     oversize and QoS 2 rejection, drops, restarts, token expiry);
//   - [StartWorkload]: a fake IoT Edge workload API on a unix socket
//     (sign with a known key, trust bundle);
//   - [StartMosquitto]: the real mosquitto broker (Debian package
//     "mosquitto") on a free loopback port with TLS and a password file;
//     tests skip when it is not installed;
//   - [NewCA]: throw-away certificate authorities.
//
// It is for tests only.
package mqtttest
