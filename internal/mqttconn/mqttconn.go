package mqttconn

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
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgesec/edgesec/internal/backoff"
	"github.com/edgesec/edgesec/transport"
)

// Defaults of Options.
const (
	DefaultMinBackoff     = time.Second
	DefaultMaxBackoff     = 60 * time.Second
	DefaultAuthCheck      = time.Minute
	DefaultAuthRetry      = 15 * time.Minute
	DefaultConnectTimeout = 30 * time.Second
	DefaultKeepAlive      = 60 * time.Second
	// stableAfter is how long a connection must have lived for the backoff
	// to start again from its minimum after it is lost.
	stableAfter = 30 * time.Second
)

// ErrRefused is wrapped by the errors of Publish and Current while the
// broker refuses the client's credentials or identity (CONNACK return code
// 2, 4 or 5).
var ErrRefused = errors.New("connection refused by the broker")

// ErrClosed is returned by Publish and Current after Close; it wraps
// transport.ErrClosed.
var ErrClosed = fmt.Errorf("mqtt connection manager closed: %w", transport.ErrClosed)

// Params are the parameters of one connection attempt.
type Params struct {
	// Broker is the broker URL: tcp://host:port, or ssl://, tls://,
	// mqtts:// for TLS.
	Broker string
	// ClientID, Username and Password are sent in CONNECT. Password is a
	// secret: it is never logged.
	ClientID, Username, Password string
	// TLS configures TLS connections; nil for tcp:// brokers.
	TLS *tls.Config
	// KeepAlive is the MQTT keep-alive (default 60 s).
	KeepAlive time.Duration
	// CleanSession is the CONNECT clean-session flag.
	CleanSession bool
	// ConnectTimeout bounds the TCP+TLS+CONNECT exchange, and then the
	// connection's set-up (Options.OnConnect) as much again (default
	// 30 s).
	ConnectTimeout time.Duration
	// RenewAt, when not zero, is when the manager closes the connection
	// and connects again with fresh Params (before a token expires).
	RenewAt time.Time
	// CredentialID identifies the credentials without revealing them (a
	// hash of a key, say). After the broker refused the credentials, the
	// manager connects again only once CredentialID changes, or after
	// Options.AuthRetry.
	CredentialID string
}

// Options configure a Manager.
type Options struct {
	// Name prefixes log messages ("iothub", "mqtt").
	Name string
	// Params returns the parameters of the next attempt; it is called
	// before every attempt. An error counts as a failed attempt.
	Params func(ctx context.Context) (Params, error)
	// OnConnect, if set, runs after every successful CONNECT, before the
	// connection is offered to Publish: it subscribes, for instance. Its ctx
	// ends when the connection is lost, or with ErrSetupTimeout as its
	// cause once the set-up has taken Params.ConnectTimeout: a broker that
	// never acknowledges it, or a connection the MQTT library lost without
	// telling (paho can miss a loss right after CONNACK), must not hold the
	// manager. An error drops the connection and counts as a failed
	// attempt.
	OnConnect func(ctx context.Context, c *Conn) error
	// OnMessage, if set, receives the messages of the subscriptions. It is
	// called from the network goroutine, in order, and must not block.
	OnMessage func(c *Conn, topic string, payload []byte)
	// Logger receives the manager's logs; nil discards them.
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the delay between attempts
	// (defaults 1 s and 60 s); each delay is jittered.
	MinBackoff, MaxBackoff time.Duration
	// AuthCheck is how often Params is asked again, after a refusal, to see
	// whether the credentials changed (default 1 min).
	AuthCheck time.Duration
	// AuthRetry is how long after a refusal the same credentials are tried
	// again (default 15 min): the broker side may have been fixed.
	AuthRetry time.Duration
}

// Manager keeps one connection to a broker. It is safe for concurrent
// use. Its goroutine runs from Start until Close.
type Manager struct {
	o   Options
	log *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	cur     *Conn
	state   error         // why there is no connection (nil while connecting the first time)
	refused bool          // state wraps ErrRefused
	changed chan struct{} // closed and replaced when cur or state changes
	closed  bool
}

// Start validates o and starts the manager's goroutine, which connects in
// the background.
func Start(o Options) (*Manager, error) {
	if o.Params == nil {
		return nil, errors.New("mqttconn: Options.Params is required")
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.AuthCheck <= 0 {
		o.AuthCheck = DefaultAuthCheck
	}
	if o.AuthRetry <= 0 {
		o.AuthRetry = DefaultAuthRetry
	}
	if o.Name == "" {
		o.Name = "mqtt"
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{o: o, log: log.With("transport", o.Name), cancel: cancel, done: make(chan struct{}), changed: make(chan struct{})}
	go m.run(ctx)
	return m, nil
}

// Close disconnects and stops the manager's goroutine; it waits for it
// until ctx is done.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqttconn: close: %w", ctx.Err())
	}
}

// Err returns why the manager has no connection (nil while it is
// connected or has not failed yet).
func (m *Manager) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur != nil {
		return nil
	}
	return m.state
}

// Current returns the current connection, waiting for one until ctx is
// done. While the broker refuses the credentials it fails at once with an
// error wrapping ErrRefused; after Close with ErrClosed.
func (m *Manager) Current(ctx context.Context) (*Conn, error) {
	for {
		m.mu.Lock()
		cur, state, refused, closed, ch := m.cur, m.state, m.refused, m.closed, m.changed
		m.mu.Unlock()
		switch {
		case closed:
			return nil, ErrClosed
		case cur != nil && !cur.isLost():
			return cur, nil
		case refused:
			return nil, state
		}
		select {
		case <-ch:
		case <-ctx.Done():
			if state != nil {
				return nil, fmt.Errorf("%w (not connected: %w)", ctx.Err(), state)
			}
			return nil, fmt.Errorf("not connected: %w", ctx.Err())
		}
	}
}

// Publish publishes payload on topic and, for QoS 1, returns nil only
// after the broker's PUBACK. When the connection is lost before, it
// publishes again on the next connection, until ctx is done.
func (m *Manager) Publish(ctx context.Context, topic string, qos byte, payload []byte) error {
	for {
		c, err := m.Current(ctx)
		if err != nil {
			return err
		}
		err = c.Publish(ctx, topic, qos, payload)
		if err == nil || ctx.Err() != nil || !errors.Is(err, errLost) {
			return err
		}
		m.log.Debug("connection lost before PUBACK; publishing again on the next connection", "topic", topic)
	}
}

func (m *Manager) set(cur *Conn, state error, refused bool) {
	m.mu.Lock()
	m.cur, m.state, m.refused = cur, state, refused
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
}

func (m *Manager) run(ctx context.Context) {
	defer close(m.done)
	defer m.set(nil, ErrClosed, false)
	b := backoff.Backoff{Min: m.o.MinBackoff, Max: m.o.MaxBackoff}
	var refusedCred string
	var refusedAt time.Time
	refused := false
	for ctx.Err() == nil {
		p, err := m.o.Params(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d := b.Next()
			m.log.Warn("cannot prepare connection", "err", err, "retry_in", d.Round(time.Millisecond))
			m.setState(fmt.Errorf("preparing connection: %w", err), refused)
			if !backoff.Sleep(ctx, d) {
				return
			}
			continue
		}
		if refused && p.CredentialID == refusedCred && time.Since(refusedAt) < m.o.AuthRetry {
			if !backoff.Sleep(ctx, m.o.AuthCheck) {
				return
			}
			continue
		}
		c, code, err := m.connect(ctx, p)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if isRefusal(code) {
				refused, refusedCred, refusedAt = true, p.CredentialID, time.Now()
				err = fmt.Errorf("%w: %w (CONNACK return code %d): check the credentials (key, token, client id); "+
					"not retrying until they change, or for %s", ErrRefused, err, code, m.o.AuthRetry)
				m.log.Error("broker refused the connection", "broker", p.Broker, "client_id", p.ClientID, "username", p.Username, "err", err)
				m.setState(err, true)
				if !backoff.Sleep(ctx, m.o.AuthCheck) {
					return
				}
				continue
			}
			d := b.Next()
			m.log.Warn("connect failed", "broker", p.Broker, "err", err, "retry_in", d.Round(time.Millisecond))
			m.setState(fmt.Errorf("connecting to %s: %w", p.Broker, err), refused)
			if !backoff.Sleep(ctx, d) {
				return
			}
			continue
		}
		if refused {
			m.log.Info("broker accepts the credentials again")
		}
		refused = false
		if m.o.OnConnect != nil {
			sctx, cancel := context.WithTimeoutCause(c.ctx, connectTimeout(p), ErrSetupTimeout)
			err := m.o.OnConnect(sctx, c)
			cancel()
			if err != nil {
				c.disconnect()
				if ctx.Err() != nil {
					return
				}
				d := b.Next()
				m.log.Warn("connection set-up failed", "err", err, "retry_in", d.Round(time.Millisecond))
				m.setState(fmt.Errorf("connection set-up: %w", err), false)
				if !backoff.Sleep(ctx, d) {
					return
				}
				continue
			}
		}
		connectedAt := time.Now()
		m.log.Info("connected", "broker", p.Broker, "client_id", p.ClientID)
		m.set(c, nil, false)
		var renew <-chan time.Time
		var renewTimer *time.Timer
		if !p.RenewAt.IsZero() {
			renewTimer = time.NewTimer(time.Until(p.RenewAt))
			renew = renewTimer.C
		}
		lost := false
		select {
		case <-ctx.Done():
			c.disconnect()
			return
		case <-renew:
			m.log.Info("reconnecting with fresh credentials before they expire")
			m.set(nil, errors.New("reconnecting with fresh credentials"), false)
			c.disconnect()
			b.Reset()
		case <-c.Done():
			lost = true
		}
		if renewTimer != nil {
			renewTimer.Stop()
		}
		if lost {
			err := c.lostErr()
			m.set(nil, fmt.Errorf("connection lost: %w", err), false)
			if time.Since(connectedAt) >= stableAfter {
				b.Reset()
			}
			d := b.Next()
			m.log.Warn("connection lost", "err", err, "retry_in", d.Round(time.Millisecond))
			if !backoff.Sleep(ctx, d) {
				return
			}
		}
	}
}

func (m *Manager) setState(err error, refused bool) { m.set(nil, err, refused) }

// isRefusal reports whether a CONNACK return code refuses the identity or
// the credentials (2 identifier rejected, 4 bad user name or password, 5
// not authorized).
func isRefusal(code byte) bool { return code == 2 || code == 4 || code == 5 }

var errLost = errors.New("connection lost")

// ErrSetupTimeout is the cause of the end of Options.OnConnect's context
// when the set-up took longer than Params.ConnectTimeout.
var ErrSetupTimeout = errors.New("connection set-up timed out")

// connectTimeout is p's ConnectTimeout, or the default.
func connectTimeout(p Params) time.Duration {
	if p.ConnectTimeout <= 0 {
		return DefaultConnectTimeout
	}
	return p.ConnectTimeout
}

// Conn is one MQTT connection. Its methods are safe for concurrent use.
type Conn struct {
	client paho.Client
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// Done is closed when the connection is lost or closed.
func (c *Conn) Done() <-chan struct{} { return c.ctx.Done() }

func (c *Conn) isLost() bool { return c.ctx.Err() != nil }

func (c *Conn) lostErr() error { return context.Cause(c.ctx) }

func (c *Conn) disconnect() {
	c.cancel(errors.New("disconnected by the client"))
	c.client.Disconnect(250)
}

// Publish publishes on this connection and waits for the PUBACK (QoS 1)
// or for the message to be written (QoS 0). It fails with an error
// wrapping errLost when the connection is lost first.
func (c *Conn) Publish(ctx context.Context, topic string, qos byte, payload []byte) error {
	if c.isLost() {
		return fmt.Errorf("publish %s: %w", topic, errLost)
	}
	tok := c.client.Publish(topic, qos, false, payload)
	return c.wait(ctx, tok, "publish "+topic)
}

// Subscribe subscribes to filters (topic filter → QoS) and checks that the
// broker granted every one.
func (c *Conn) Subscribe(ctx context.Context, filters map[string]byte) error {
	tok := c.client.SubscribeMultiple(filters, nil)
	if err := c.wait(ctx, tok, "subscribe"); err != nil {
		return err
	}
	st, ok := tok.(*paho.SubscribeToken)
	if !ok {
		return nil
	}
	for f, code := range st.Result() {
		if code == 0x80 {
			return fmt.Errorf("subscribe %s: refused by the broker", f)
		}
	}
	return nil
}

func (c *Conn) wait(ctx context.Context, tok paho.Token, what string) error {
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			if errors.Is(err, paho.ErrNotConnected) && !c.isLost() {
				// paho saw the connection go before its connection-lost
				// handler told us: wait (briefly) for that, so that the
				// caller publishes again on the next connection instead
				// of failing, and does not spin on this one meanwhile.
				t := time.NewTimer(time.Second)
				select {
				case <-c.ctx.Done():
				case <-ctx.Done():
				case <-t.C:
				}
				t.Stop()
				return fmt.Errorf("%s: %w: %w", what, errLost, err)
			}
			if c.isLost() {
				return fmt.Errorf("%s: %w: %w", what, errLost, err)
			}
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	case <-c.ctx.Done():
		return fmt.Errorf("%s: %w: %w", what, errLost, c.lostErr())
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", what, context.Cause(ctx))
	}
}

// connect makes one attempt. code is the CONNACK return code (0 when
// there was none).
func (m *Manager) connect(ctx context.Context, p Params) (*Conn, byte, error) {
	broker, err := normalizeBroker(p.Broker)
	if err != nil {
		return nil, 0, err
	}
	if p.KeepAlive <= 0 {
		p.KeepAlive = DefaultKeepAlive
	}
	p.ConnectTimeout = connectTimeout(p)
	cctx, cancel := context.WithCancelCause(ctx)
	c := &Conn{ctx: cctx, cancel: cancel}
	opts := paho.NewClientOptions().
		AddBroker(broker).
		SetClientID(p.ClientID).
		SetUsername(p.Username).
		SetPassword(p.Password).
		SetCleanSession(p.CleanSession).
		SetProtocolVersion(4).
		SetKeepAlive(p.KeepAlive).
		SetPingTimeout(min(p.KeepAlive, 20*time.Second)).
		SetConnectTimeout(p.ConnectTimeout).
		SetWriteTimeout(p.ConnectTimeout).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetResumeSubs(false).
		SetOrderMatters(true).
		SetConnectionLostHandler(func(_ paho.Client, err error) { cancel(err) })
	if p.TLS != nil {
		opts.SetTLSConfig(p.TLS)
	}
	// Dial ourselves, bound to ctx, and keep the connection so that a
	// cancelled attempt is aborted at once (closing the socket makes
	// paho's CONNECT exchange fail) instead of waiting out ConnectTimeout.
	var dialed struct {
		sync.Mutex
		conn net.Conn
	}
	opts.SetCustomOpenConnectionFn(func(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
		nd := &net.Dialer{Timeout: o.ConnectTimeout}
		var conn net.Conn
		var err error
		switch uri.Scheme {
		case "ssl":
			td := &tls.Dialer{NetDialer: nd, Config: o.TLSConfig}
			conn, err = td.DialContext(ctx, "tcp", uri.Host)
		default:
			conn, err = nd.DialContext(ctx, "tcp", uri.Host)
		}
		if err != nil {
			return nil, err
		}
		dialed.Lock()
		defer dialed.Unlock()
		if err := ctx.Err(); err != nil { // cancelled while dialling
			_ = conn.Close()
			return nil, err
		}
		dialed.conn = conn
		return conn, nil
	})
	if m.o.OnMessage != nil {
		h := m.o.OnMessage
		opts.SetDefaultPublishHandler(func(_ paho.Client, msg paho.Message) { h(c, msg.Topic(), msg.Payload()) })
	}
	c.client = paho.NewClient(opts)
	tok := c.client.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		cancel(ctx.Err())
		dialed.Lock()
		if dialed.conn != nil {
			_ = dialed.conn.Close()
		}
		dialed.Unlock()
		<-tok.Done() // prompt now: the dial honours ctx and the socket is closed
		c.client.Disconnect(0)
		return nil, 0, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		cancel(err)
		var code byte
		if ct, ok := tok.(*paho.ConnectToken); ok {
			code = ct.ReturnCode()
		}
		return nil, code, err
	}
	return c, 0, nil
}

// normalizeBroker maps the URL schemes users write to paho's.
func normalizeBroker(u string) (string, error) {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok || rest == "" {
		return "", fmt.Errorf("broker URL %q: want scheme://host:port", u)
	}
	switch strings.ToLower(scheme) {
	case "tcp", "mqtt":
		return "tcp://" + rest, nil
	case "ssl", "tls", "mqtts":
		return "ssl://" + rest, nil
	}
	return "", fmt.Errorf("broker URL %q: unsupported scheme %q (tcp, mqtt, ssl, tls, mqtts)", u, scheme)
}
