package iothub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgesec/edgesec/internal/mqttconn"
	"github.com/edgesec/edgesec/transport"
)

// Defaults of Options.
const (
	// DefaultAPIVersion is the IoT Hub MQTT API version in the username.
	DefaultAPIVersion = "2021-04-12"
	// DefaultTokenLifetime is how long each SAS token is valid.
	DefaultTokenLifetime = time.Hour
	// DefaultKeepAlive is the MQTT keep-alive.
	DefaultKeepAlive = 60 * time.Second
	// DefaultTwinTimeout is how long a twin request waits for its answer.
	DefaultTwinTimeout = 30 * time.Second
	// DefaultPort is the MQTT-over-TLS port of IoT Hub and edgeHub.
	DefaultPort = "8883"
	// renewFraction is the fraction of a token's lifetime after which the
	// client reconnects with a fresh one.
	renewFraction = 0.8
	// minTokenLifetime keeps renewals from looping.
	minTokenLifetime = 10 * time.Second
)

// ErrRefused is wrapped by the errors of Send and ReportProperties while
// IoT Hub or edgeHub refuses the client's credentials (CONNACK "bad user
// name or password" or "not authorized"): the key, the token or the
// identity is wrong, and retrying with the same credentials cannot help.
var ErrRefused = mqttconn.ErrRefused

// Options configure a Client.
type Options struct {
	// Identity is the module identity (required); see
	// IdentityFromEnvironment and IdentityFromConnectionString.
	Identity Identity
	// ClientVersion is the edgesec version, sent in the username as
	// DeviceClientType=edgesec/<ClientVersion>.
	ClientVersion string
	// APIVersion is the IoT Hub API version in the username (default
	// DefaultAPIVersion).
	APIVersion string
	// TokenLifetime is how long each SAS token is valid (default 1 h, at
	// least 10 s). The client reconnects with a fresh token after 80% of it.
	TokenLifetime time.Duration
	// KeepAlive is the MQTT keep-alive (default 60 s; IoT Hub accepts up to
	// 1177 s).
	KeepAlive time.Duration
	// TwinTimeout bounds the wait for the answer to a twin request
	// (default 30 s).
	TwinTimeout time.Duration
	// ConnectTimeout bounds a connection attempt (TCP, TLS and CONNECT),
	// and then its set-up (the twin subscriptions) as much again (default
	// 30 s).
	ConnectTimeout time.Duration
	// MinBackoff and MaxBackoff bound the jittered exponential delay
	// between connection attempts (defaults 1 s and 60 s); AuthRetry is how
	// long refused credentials are left alone (default 15 min) unless they
	// change. AuthCheck is how often, after a refusal, the client signs a
	// token again to see whether the key changed (default 1 min).
	MinBackoff, MaxBackoff, AuthRetry, AuthCheck time.Duration
	// Logger receives the client's logs; nil discards them. Tokens and keys
	// are never logged.
	Logger *slog.Logger
}

// Client is an IoT Hub / edgeHub module client over MQTT 3.1.1. It
// implements transport.Transport (telemetry), reports properties to the
// module twin (ReportProperties) and delivers the twin's desired
// properties (Twin).
//
// A Client keeps one connection in the background, from New until Close;
// all its methods are safe for concurrent use.
type Client struct {
	o      Options
	id     Identity
	log    *slog.Logger
	mgr    *mqttconn.Manager
	twin   *twin
	cancel context.CancelFunc
	done   chan struct{}

	// state is c.mgr for params, which the manager's goroutine may call
	// before New has stored c.mgr.
	state atomic.Pointer[mqttconn.Manager]
	// The current SAS token, reused by every connection attempt until
	// tokRenew: one signature per token lifetime, not per attempt (a
	// workload API signature may cost a TPM or HSM operation).
	tokMu     sync.Mutex
	tok       string
	tokExpiry time.Time
	tokRenew  time.Time
}

// New validates o and starts the client: it connects (and keeps
// reconnecting) in the background, so New does not wait for IoT Hub. Close
// stops it.
func New(o Options) (*Client, error) {
	id := o.Identity
	if id.HubHostName == "" || id.DeviceID == "" || id.ModuleID == "" {
		return nil, errors.New("iothub: Identity needs HubHostName, DeviceID and ModuleID")
	}
	if id.Signer == nil {
		return nil, errors.New("iothub: Identity needs a Signer")
	}
	if o.APIVersion == "" {
		o.APIVersion = DefaultAPIVersion
	}
	if o.ClientVersion == "" {
		o.ClientVersion = "dev"
	}
	if o.TokenLifetime <= 0 {
		o.TokenLifetime = DefaultTokenLifetime
	}
	o.TokenLifetime = max(o.TokenLifetime, minTokenLifetime)
	if o.KeepAlive <= 0 {
		o.KeepAlive = DefaultKeepAlive
	}
	if o.TwinTimeout <= 0 {
		o.TwinTimeout = DefaultTwinTimeout
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, _, err := serverAddress(id); err != nil {
		return nil, err
	}
	c := &Client{o: o, id: id, log: log.With("device", id.DeviceID, "module", id.ModuleID), done: make(chan struct{})}
	c.twin = newTwin(c)
	mgr, err := mqttconn.Start(mqttconn.Options{
		Name:       "iothub",
		Params:     c.params,
		OnConnect:  c.twin.onConnect,
		OnMessage:  c.twin.onMessage,
		Logger:     log,
		MinBackoff: o.MinBackoff,
		MaxBackoff: o.MaxBackoff,
		AuthRetry:  o.AuthRetry,
		AuthCheck:  o.AuthCheck,
	})
	if err != nil {
		return nil, fmt.Errorf("iothub: %w", err)
	}
	c.mgr = mgr
	c.state.Store(mgr)
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		defer close(c.done)
		c.twin.run(ctx)
	}()
	return c, nil
}

// serverAddress returns host:port to dial and the TLS server name.
func serverAddress(id Identity) (addr, serverName string, err error) {
	host := id.GatewayHostName
	if host == "" {
		host = id.HubHostName
	}
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		h, p = host, DefaultPort
	}
	if h == "" || strings.ContainsAny(h, "/ ") {
		return "", "", fmt.Errorf("iothub: invalid host name %q", host)
	}
	return net.JoinHostPort(h, p), h, nil
}

// Username returns the MQTT username of a module:
// {hub}/{device}/{module}/?api-version=…&DeviceClientType=edgesec%2F<version>.
func Username(hub, device, module, apiVersion, clientVersion string) string {
	return hub + "/" + device + "/" + module + "/?api-version=" + Escape(apiVersion) +
		"&DeviceClientType=" + Escape("edgesec/"+clientVersion)
}

// params prepares one connection attempt: a fresh SAS token, the trust
// bundle, and the time to renew.
func (c *Client) params(ctx context.Context) (mqttconn.Params, error) {
	addr, serverName, err := serverAddress(c.id)
	if err != nil {
		return mqttconn.Params{}, err
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if c.id.RootCAs != nil {
		pool, err := c.id.RootCAs(ctx)
		if err != nil {
			return mqttconn.Params{}, err
		}
		tlsConf.RootCAs = pool
	}
	tok, renewAt, err := c.token(ctx)
	if err != nil {
		return mqttconn.Params{}, err
	}
	return mqttconn.Params{
		Broker:         "ssl://" + addr,
		ClientID:       c.id.DeviceID + "/" + c.id.ModuleID,
		Username:       Username(c.id.HubHostName, c.id.DeviceID, c.id.ModuleID, c.o.APIVersion, c.o.ClientVersion),
		Password:       tok,
		TLS:            tlsConf,
		KeepAlive:      c.o.KeepAlive,
		ConnectTimeout: c.o.ConnectTimeout,
		CleanSession:   false,
		RenewAt:        renewAt,
		CredentialID:   credentialID(tok),
	}, nil
}

// token returns the SAS token for a connection attempt and when to renew
// it. The token is signed once per lifetime and reused by the attempts
// before its renewal time. While the hub refuses the credentials, each
// attempt signs the same resource and expiry again: the same token means
// the same key (the manager then keeps waiting), another token a new key
// (a rotated module key, which the manager tries at once).
func (c *Client) token(ctx context.Context) (string, time.Time, error) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	now := time.Now()
	expiry := c.tokExpiry
	if c.tok == "" || !now.Before(c.tokRenew) {
		expiry = now.Add(c.o.TokenLifetime)
	} else if m := c.state.Load(); m == nil || !errors.Is(m.Err(), ErrRefused) {
		return c.tok, c.tokRenew, nil
	}
	tok, err := SASToken(ctx, c.id.Signer, ModuleResource(c.id.HubHostName, c.id.DeviceID, c.id.ModuleID), c.id.KeyName, expiry)
	if err != nil {
		return "", time.Time{}, err
	}
	if !expiry.Equal(c.tokExpiry) {
		c.tokExpiry = expiry
		c.tokRenew = now.Add(time.Duration(float64(c.o.TokenLifetime) * renewFraction))
	}
	c.tok = tok
	return tok, c.tokRenew, nil
}

// Send publishes m as a telemetry message of the module at QoS 1, with
// its properties in the topic's property bag, and returns nil once IoT
// Hub (or edgeHub) acknowledged it with a PUBACK. A connection lost before
// the PUBACK makes Send publish it again, with the same $.mid, on the next
// connection, until ctx is done. A message whose packet would exceed
// MaxPacketSize is refused with a permanent error. While the hub refuses
// the credentials Send fails at once with an error wrapping ErrRefused.
// After Close, Send returns an error matching transport.ErrClosed.
func (c *Client) Send(ctx context.Context, m transport.Message) error {
	topic := telemetryTopic(c.id.DeviceID, c.id.ModuleID, m)
	if n := PacketSize(topic, len(m.Body), 1); n > MaxPacketSize {
		return transport.Permanent(fmt.Errorf("iothub: message %s: packet of %d bytes exceeds IoT Hub's limit of %d (topic and properties %d bytes)",
			m.ID, n, MaxPacketSize, len(topic)))
	}
	if err := c.mgr.Publish(ctx, topic, 1, m.Body); err != nil {
		return fmt.Errorf("iothub: send %s: %w", m.ID, err)
	}
	return nil
}

// WaitConnected waits until the client is connected and has subscribed to
// its twin, or ctx is done, or the hub refused the credentials.
func (c *Client) WaitConnected(ctx context.Context) error {
	_, err := c.mgr.Current(ctx)
	if err != nil {
		return fmt.Errorf("iothub: %w", err)
	}
	return nil
}

// Err returns why the client is not connected, nil when it is.
func (c *Client) Err() error { return c.mgr.Err() }

// Close disconnects and stops the client's goroutines, waiting for them
// until ctx is done. Send is not called after Close.
func (c *Client) Close(ctx context.Context) error {
	c.cancel()
	err := c.mgr.Close(ctx)
	select {
	case <-c.done:
	case <-ctx.Done():
		if err == nil {
			err = fmt.Errorf("iothub: close: %w", ctx.Err())
		}
	}
	return err
}

// parseQuery parses the query of a twin topic ("…/?$rid=1&$version=4").
func parseQuery(topic string) url.Values {
	_, q, ok := strings.Cut(topic, "?")
	if !ok {
		return url.Values{}
	}
	v, err := url.ParseQuery(q)
	if err != nil {
		return url.Values{}
	}
	return v
}
