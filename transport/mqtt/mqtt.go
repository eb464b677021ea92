package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/edgesec/edgesec/internal/mqttconn"
	"github.com/edgesec/edgesec/transport"
)

// DefaultTopic is the topic template when Options.Topic is empty.
const DefaultTopic = "edgesec/{device}/security/{priority}"

// MaxPacketSize is the largest MQTT 3.1.1 packet (the remaining length is
// at most 268,435,455 bytes); brokers often accept less (mosquitto's
// message_size_limit, AWS IoT Core's 128 KiB) — set Options.MaxPacketSize.
const MaxPacketSize = 268435455 + 5

// ErrRefused is wrapped by Send's errors while the broker refuses the
// credentials or the client id (CONNACK return codes 2, 4, 5).
var ErrRefused = mqttconn.ErrRefused

// Options configure a Transport.
type Options struct {
	// URL is the broker: tcp://host:1883 or mqtt://, and ssl://, tls:// or
	// mqtts://host:8883 for TLS (required). User information in it
	// ("tcp://user:password@host") is moved to Username and Password when
	// those are empty, and dropped from the URL, which is logged.
	URL string
	// ClientID is the MQTT client id (default "edgesec-" + Device). It
	// must be unique on the broker.
	ClientID string
	// Username and Password authenticate the client (optional). The
	// password is never logged.
	Username, Password string
	// CAFile is a PEM file of CAs that verify the broker (default: the
	// system roots). CertFile and KeyFile are a client certificate and
	// key for mutual TLS (optional).
	CAFile, CertFile, KeyFile string
	// TLSConfig, when set, is used instead of CAFile/CertFile/KeyFile
	// (cloned; MinVersion raised to TLS 1.2).
	TLSConfig *tls.Config
	// Topic is the topic template: {device} and {priority} ("high",
	// "low") are replaced. Default DefaultTopic.
	Topic string
	// Device names the device in the topic (default the host name).
	Device string
	// KeepAlive is the MQTT keep-alive (default 60 s).
	KeepAlive time.Duration
	// CleanSession sets the CONNECT clean-session flag (default false: a
	// persistent session).
	CleanSession bool
	// MaxPacketSize refuses (permanently) messages whose PUBLISH packet
	// would be larger (default MaxPacketSize).
	MaxPacketSize int
	// MinBackoff, MaxBackoff and AuthRetry tune reconnection (defaults
	// 1 s, 60 s, 15 min); see the package documentation.
	MinBackoff, MaxBackoff, AuthRetry time.Duration
	// Logger receives the transport's logs; nil discards them.
	Logger *slog.Logger
}

// ParseURL reads Options from a URL as given on a command line:
//
//	mqtts://user:password@broker:8883?ca=/etc/ca.pem&cert=c.pem&key=k.pem&client_id=x&topic=site/{device}/{priority}&device=gw1
//
// The user information and the query parameters are moved to the
// Options' fields; URL keeps scheme, host and port.
func ParseURL(raw string) (Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// A *url.Error quotes the whole URL, password included: keep
		// only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Options{}, fmt.Errorf("mqtt: broker URL: %w", err)
	}
	if u.Host == "" {
		return Options{}, fmt.Errorf("mqtt: broker URL %q has no host", u.Redacted())
	}
	o := Options{URL: u.Scheme + "://" + u.Host}
	if u.User != nil {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
	}
	q := u.Query()
	o.CAFile, o.CertFile, o.KeyFile = q.Get("ca"), q.Get("cert"), q.Get("key")
	o.ClientID, o.Topic, o.Device = q.Get("client_id"), q.Get("topic"), q.Get("device")
	if ka := q.Get("keepalive"); ka != "" {
		d, err := time.ParseDuration(ka)
		if err != nil {
			return Options{}, fmt.Errorf("mqtt: keepalive: %w", err)
		}
		o.KeepAlive = d
	}
	if cs := q.Get("clean_session"); cs != "" {
		o.CleanSession, err = strconv.ParseBool(cs)
		if err != nil {
			return Options{}, fmt.Errorf("mqtt: clean_session: %w", err)
		}
	}
	return o, nil
}

// Transport publishes security messages to an MQTT 3.1.1 broker at QoS 1.
// It keeps one connection in the background from New until Close; Send
// and Close are safe for concurrent use.
type Transport struct {
	o   Options
	mgr *mqttconn.Manager
}

// New validates o, loads the TLS material and starts connecting in the
// background.
func New(o Options) (*Transport, error) {
	if o.URL == "" {
		return nil, errors.New("mqtt: Options.URL is required")
	}
	// Credentials in the URL would be logged with it (and paho would use
	// them): move them to Username and Password, as ParseURL does.
	if u, err := url.Parse(o.URL); err == nil && u.User != nil {
		if o.Username == "" && o.Password == "" {
			o.Username = u.User.Username()
			o.Password, _ = u.User.Password()
		}
		u.User = nil
		o.URL = u.String()
	}
	scheme, _, _ := strings.Cut(o.URL, "://")
	scheme = strings.ToLower(scheme)
	useTLS := scheme == "ssl" || scheme == "tls" || scheme == "mqtts"
	if !useTLS && scheme != "tcp" && scheme != "mqtt" {
		return nil, fmt.Errorf("mqtt: broker URL scheme %q: want tcp, mqtt, ssl, tls or mqtts", scheme)
	}
	if o.Device == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "device"
		}
		o.Device = h
	}
	if o.ClientID == "" {
		o.ClientID = "edgesec-" + o.Device
	}
	if o.Topic == "" {
		o.Topic = DefaultTopic
	}
	if strings.ContainsAny(strings.NewReplacer("{device}", "", "{priority}", "").Replace(o.Topic), "+#") ||
		strings.ContainsAny(o.Device, "+#/") {
		return nil, fmt.Errorf("mqtt: topic %q (device %q) must not contain wildcards, and the device no '/'", o.Topic, o.Device)
	}
	if o.MaxPacketSize <= 0 {
		o.MaxPacketSize = MaxPacketSize
	}
	var tlsConf *tls.Config
	if useTLS {
		var err error
		tlsConf, err = o.tlsConfig()
		if err != nil {
			return nil, err
		}
	} else if o.Password != "" {
		log := o.Logger
		if log != nil {
			log.Warn("mqtt: the password is sent in clear text over tcp://; use mqtts://")
		}
	}
	params := mqttconn.Params{Broker: o.URL, ClientID: o.ClientID, Username: o.Username, Password: o.Password,
		TLS: tlsConf, KeepAlive: o.KeepAlive, CleanSession: o.CleanSession,
		CredentialID: o.Username + "\x00" + fingerprint(o.Password)}
	mgr, err := mqttconn.Start(mqttconn.Options{
		Name:       "mqtt",
		Params:     func(context.Context) (mqttconn.Params, error) { return params, nil },
		Logger:     o.Logger,
		MinBackoff: o.MinBackoff,
		MaxBackoff: o.MaxBackoff,
		AuthRetry:  o.AuthRetry,
	})
	if err != nil {
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	return &Transport{o: o, mgr: mgr}, nil
}

func fingerprint(s string) string {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return strconv.FormatUint(h, 16)
}

func (o Options) tlsConfig() (*tls.Config, error) {
	if o.TLSConfig != nil {
		c := o.TLSConfig.Clone()
		c.MinVersion = max(c.MinVersion, tls.VersionTLS12)
		return c, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt: CA file %s has no PEM certificate", o.CAFile)
		}
		c.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("mqtt: a client certificate needs both CertFile and KeyFile")
	}
	if o.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt: client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// Topic returns the topic m is published on.
func (t *Transport) Topic(m transport.Message) string {
	return strings.NewReplacer("{device}", t.o.Device, "{priority}", strings.ToLower(m.Priority.String())).Replace(t.o.Topic)
}

// Send publishes m's body at QoS 1 and returns nil once the broker sent
// its PUBACK. If the connection is lost first, the message is published
// again on the next connection (the body carries the message's event ids,
// so a consumer can drop duplicates), until ctx is done. A message over
// Options.MaxPacketSize is refused with a permanent error; while the
// broker refuses the credentials Send fails at once (ErrRefused). After
// Close, Send returns an error matching transport.ErrClosed.
func (t *Transport) Send(ctx context.Context, m transport.Message) error {
	topic := t.Topic(m)
	size := 1 + 4 + 2 + len(topic) + 2 + len(m.Body)
	if size > t.o.MaxPacketSize {
		return transport.Permanent(fmt.Errorf("mqtt: message %s of %d bytes exceeds the packet limit %d", m.ID, len(m.Body), t.o.MaxPacketSize))
	}
	if err := t.mgr.Publish(ctx, topic, 1, m.Body); err != nil {
		return fmt.Errorf("mqtt: send %s: %w", m.ID, err)
	}
	return nil
}

// WaitConnected waits until the transport is connected, ctx is done, or
// the broker refused the credentials.
func (t *Transport) WaitConnected(ctx context.Context) error {
	if _, err := t.mgr.Current(ctx); err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	return nil
}

// Err returns why the transport is not connected, nil when it is.
func (t *Transport) Err() error { return t.mgr.Err() }

// Close disconnects and stops the background goroutine, waiting for it
// until ctx is done.
func (t *Transport) Close(ctx context.Context) error {
	if err := t.mgr.Close(ctx); err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	return nil
}
