// Package mqttconn is the connection manager shared by edgesec's MQTT
// transports (transport/iothub and transport/mqtt): one MQTT 3.1.1
// connection at a time per identity, built on
// github.com/eclipse/paho.mqtt.golang, with
//
//   - fresh connection parameters (credentials) asked for before every
//     attempt, so that SAS tokens are renewed;
//   - a planned reconnect when the credentials are about to expire
//     (Params.RenewAt), without backoff;
//   - exponential backoff with jitter (1 s doubling to a 60 s cap by
//     default) after a failed attempt or a lost connection, and no backoff
//     reset for connections that die young, so a broker that accepts and
//     drops at once is not hammered;
//   - CONNACK refusals for credentials or identity (return codes 2, 4 and 5)
//     treated as fatal until the credentials change: they are logged once
//     as an error, Publish fails fast with ErrRefused, and a new attempt is
//     made only when Params.CredentialID changes or after AuthRetry;
//   - Publish that returns nil only after the broker's PUBACK and resends
//     the message on the next connection when the connection is lost first
//     (at-least-once; the receiver deduplicates by message id).
//
// It is internal plumbing, not API.
package mqttconn
