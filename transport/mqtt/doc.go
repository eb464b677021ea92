// Package mqtt is a generic MQTT 3.1.1 transport for security messages:
// mosquitto, EMQX, HiveMQ, AWS IoT Core, or any broker that speaks 3.1.1.
//
// Each message's body (the ASC JSON envelope) is published at QoS 1 on a
// topic built from a template ({device}, {priority}); Send returns nil
// only after the broker's PUBACK. TLS (1.2 or later, host name always
// verified) with a CA file and an optional client certificate, user name
// and password, and a fixed client id are supported. Connections are kept
// by the same manager as the IoT Hub transport: one connection per client
// id, exponential backoff with jitter capped at 60 s, and credentials the
// broker refuses (CONNACK 4 or 5) are not retried in a loop: Send fails
// fast with ErrRefused and the transport tries again after AuthRetry.
//
// MQTT 3.1.1 has no message properties, so the message id is not sent
// separately; the envelope's event ids identify duplicates of a message
// delivered twice (at-least-once).
package mqtt
