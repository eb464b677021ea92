package mqtt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/edgesec/edgesec/internal/mqttconn"
)

// Subscribe connects to the broker of o (URL, credentials and TLS as for a
// Transport), subscribes to filter at QoS 1 and calls handle with every
// message it receives, until ctx is cancelled; then it returns nil. It
// reconnects (and subscribes again) with backoff when the connection is
// lost. handle is called from one goroutine, in order, and must not block
// for long. The client id defaults to "edgesec-reader-" + the host name
// and process id, and the session is clean unless o.CleanSession is false
// and o.ClientID is set (a persistent reader that misses nothing while it
// is away). It is meant for tools that read what the transports sent, such
// as "edgesec alerts --mqtt".
func Subscribe(ctx context.Context, o Options, filter string, handle func(topic string, payload []byte)) error {
	if o.URL == "" {
		return errors.New("mqtt: Options.URL is required")
	}
	if filter == "" {
		return errors.New("mqtt: empty topic filter")
	}
	scheme, _, _ := strings.Cut(o.URL, "://")
	scheme = strings.ToLower(scheme)
	useTLS := scheme == "ssl" || scheme == "tls" || scheme == "mqtts"
	if !useTLS && scheme != "tcp" && scheme != "mqtt" {
		return fmt.Errorf("mqtt: broker URL scheme %q: want tcp, mqtt, ssl, tls or mqtts", scheme)
	}
	clean := true
	if o.ClientID == "" {
		h, _ := os.Hostname()
		o.ClientID = fmt.Sprintf("edgesec-reader-%s-%d", h, os.Getpid())
	} else {
		clean = o.CleanSession
	}
	var tlsConf = o.TLSConfig
	if useTLS {
		c, err := o.tlsConfig()
		if err != nil {
			return err
		}
		tlsConf = c
	}
	params := mqttconn.Params{Broker: o.URL, ClientID: o.ClientID, Username: o.Username, Password: o.Password,
		TLS: tlsConf, KeepAlive: o.KeepAlive, CleanSession: clean,
		CredentialID: o.Username + "\x00" + fingerprint(o.Password)}
	mgr, err := mqttconn.Start(mqttconn.Options{
		Name:   "mqtt-reader",
		Params: func(context.Context) (mqttconn.Params, error) { return params, nil },
		OnConnect: func(ctx context.Context, c *mqttconn.Conn) error {
			return c.Subscribe(ctx, map[string]byte{filter: 1})
		},
		OnMessage:  func(_ *mqttconn.Conn, topic string, payload []byte) { handle(topic, payload) },
		Logger:     o.Logger,
		MinBackoff: o.MinBackoff,
		MaxBackoff: o.MaxBackoff,
		AuthRetry:  o.AuthRetry,
	})
	if err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	<-ctx.Done()
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5e9)
	defer cancel()
	if err := mgr.Close(closeCtx); err != nil && !errors.Is(err, mqttconn.ErrClosed) {
		return fmt.Errorf("mqtt: close: %w", err)
	}
	return nil
}
