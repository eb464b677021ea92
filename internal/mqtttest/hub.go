package mqtttest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// HubMaxPacket is IoT Hub's largest accepted packet (256 KiB).
const HubMaxPacket = 256 * 1024

// HubOptions configure a Hub.
type HubOptions struct {
	// HubHostName is the IoT Hub name expected in usernames and tokens
	// (default "testhub.azure-devices.net").
	HubHostName string
	// DeviceID and ModuleID are the one module identity the hub knows
	// (defaults "edgedevice" and "edgesec").
	DeviceID, ModuleID string
	// Key is the module's shared access key (raw bytes; default 32 fixed
	// bytes, see Hub.KeyBase64).
	Key []byte
	// CA signs the hub's server certificate (for "localhost" and
	// 127.0.0.1); a new one when nil.
	CA *CA
	// Desired is the initial desired-properties document (without
	// "$version"; version 1 is added). Default {}.
	Desired json.RawMessage
	// Policies are the hub's shared access policies (name → raw key), as
	// a connection string's SharedAccessKeyName names them: a token with
	// skn=name is verified with that policy's key, a token without skn
	// with the module key (so a policy-signed token without skn is
	// refused, as IoT Hub refuses it).
	Policies map[string][]byte
	// ClientTypes are the prefixes the username's DeviceClientType may
	// start with (default "edgesec/"; the official Node SDK sends
	// "azure-iot-device/…").
	ClientTypes []string
}

// HubMessage is a telemetry message the hub accepted.
type HubMessage struct {
	Topic      string
	Properties map[string]string
	Body       []byte
	PacketSize int
}

// HubConnect records a CONNECT the hub received.
type HubConnect struct {
	ClientID     string
	Username     string
	Clean        bool
	KeepAlive    uint16
	Protocol     byte
	Accepted     bool
	Reason       string
	TokenExpiry  time.Time
	At           time.Time
	ClientType   string
	APIVersion   string
	RemoteAddr   string
	ResourceSeen string
	// Password is the CONNECT password (the SAS token) as sent, for tests
	// that compare tokens field by field (see SASFields).
	Password string
}

// Hub is an embedded MQTT broker (github.com/mochi-mqtt/server/v2) that
// plays IoT Hub / edgeHub for one module identity over TLS: it verifies
// CONNECT (protocol 3.1.1, client id, username format, the SAS token's
// resource, expiry and signature), disconnects a client when its token
// expires, accepts telemetry on the module's events topic and decodes its
// property bag, serves the twin (GET, reported PATCH with $rid and
// statuses, desired pushes with $version), closes the connection on
// packets over 256 KiB and on QoS 2, and can drop or restart on demand.
// Protocol violations it notices are collected (Violations).
type Hub struct {
	o    HubOptions
	addr string
	t    testing.TB

	mu          sync.Mutex
	srv         *mqtt.Server
	key         []byte
	desired     map[string]any
	desiredVer  int64
	reported    map[string]any
	reportedVer int64
	patches     [][]byte
	messages    []HubMessage
	connects    []HubConnect
	violations  []string
	rejected    []string
	failGet     []int
	failReport  []int
	dropNext    int
	gets        int
	expiredKick int
	clients     map[string]*mqtt.Client
	sessions    int // sessions established (see Sessions)
	changed     chan struct{}
}

// StartHub starts a hub on a free loopback port; it stops at the end of
// the test.
func StartHub(t testing.TB, o HubOptions) *Hub {
	t.Helper()
	if o.HubHostName == "" {
		o.HubHostName = "testhub.azure-devices.net"
	}
	if o.DeviceID == "" {
		o.DeviceID = "edgedevice"
	}
	if o.ModuleID == "" {
		o.ModuleID = "edgesec"
	}
	if o.Key == nil {
		o.Key = bytes.Repeat([]byte{0x5a, 0xa5, 0x3c, 0xc3}, 8)
	}
	if o.CA == nil {
		o.CA = NewCA(t, "edgesec test hub CA")
	}
	if len(o.ClientTypes) == 0 {
		o.ClientTypes = []string{"edgesec/"}
	}
	h := &Hub{o: o, t: t, key: o.Key, desiredVer: 1, reportedVer: 1, desired: map[string]any{}, reported: map[string]any{},
		clients: map[string]*mqtt.Client{}, changed: make(chan struct{})}
	if len(o.Desired) > 0 {
		if err := json.Unmarshal(o.Desired, &h.desired); err != nil {
			t.Fatalf("mqtttest: HubOptions.Desired: %v", err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mqtttest: %v", err)
	}
	h.addr = l.Addr().String()
	l.Close()
	h.start()
	t.Cleanup(h.Stop)
	return h
}

// Addr is the hub's host:port (127.0.0.1:port).
func (h *Hub) Addr() string { return h.addr }

// GatewayHostName is "localhost:port", for Identity.GatewayHostName and
// IOTEDGE_GATEWAYHOSTNAME: the server certificate is issued for localhost.
func (h *Hub) GatewayHostName() string {
	_, p, _ := net.SplitHostPort(h.addr)
	return "localhost:" + p
}

// CA is the authority that signed the hub's certificate.
func (h *Hub) CA() *CA { return h.o.CA }

// Options returns the hub's options (with defaults filled in).
func (h *Hub) Options() HubOptions { return h.o }

// KeyBase64 is the module key as a connection string carries it.
func (h *Hub) KeyBase64() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return base64.StdEncoding.EncodeToString(h.key)
}

// ConnectionString returns the module's connection string, through the
// hub as a gateway.
func (h *Hub) ConnectionString() string {
	return fmt.Sprintf("HostName=%s;DeviceId=%s;ModuleId=%s;SharedAccessKey=%s;GatewayHostName=%s",
		h.o.HubHostName, h.o.DeviceID, h.o.ModuleID, h.KeyBase64(), h.GatewayHostName())
}

// SetKey changes the key the hub verifies tokens with.
func (h *Hub) SetKey(key []byte) {
	h.mu.Lock()
	h.key = bytes.Clone(key)
	h.mu.Unlock()
}

func (h *Hub) start() {
	srv := mqtt.New(&mqtt.Options{InlineClient: false, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := srv.AddHook(&hubHook{h: h}, nil); err != nil {
		h.t.Fatalf("mqtttest: %v", err)
	}
	cert := h.o.CA.Issue(h.t, "localhost", []string{"localhost", "127.0.0.1"}, false)
	tcp := listeners.NewTCP(listeners.Config{ID: "hub", Address: h.addr,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert.TLS}}})
	var err error
	for range 50 { // the port may linger briefly after a restart
		if err = srv.AddListener(tcp); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
		tcp = listeners.NewTCP(listeners.Config{ID: "hub", Address: h.addr,
			TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert.TLS}}})
	}
	if err != nil {
		h.t.Fatalf("mqtttest: hub listener: %v", err)
	}
	if err := srv.Serve(); err != nil {
		h.t.Fatalf("mqtttest: hub serve: %v", err)
	}
	h.mu.Lock()
	h.srv = srv
	h.mu.Unlock()
}

// Stop stops the broker (the hub's state is kept).
func (h *Hub) Stop() {
	h.mu.Lock()
	srv := h.srv
	h.srv = nil
	h.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Restart stops the broker and starts a new one on the same port with the
// same twin and records: a broker restart as the client sees it.
func (h *Hub) Restart(down time.Duration) {
	h.Stop()
	time.Sleep(down)
	h.start()
}

// DropClients closes every client connection now.
func (h *Hub) DropClients() {
	h.mu.Lock()
	cls := make([]*mqtt.Client, 0, len(h.clients))
	for _, cl := range h.clients {
		cls = append(cls, cl)
	}
	h.mu.Unlock()
	for _, cl := range cls {
		cl.Stop(errors.New("dropped by the test"))
	}
}

// DropNextPublishes makes the hub close the connection instead of
// acknowledging the next n telemetry messages (they are not recorded).
func (h *Hub) DropNextPublishes(n int) {
	h.mu.Lock()
	h.dropNext = n
	h.mu.Unlock()
}

// FailTwinGets makes the next twin GETs answer with these statuses.
func (h *Hub) FailTwinGets(statuses ...int) {
	h.mu.Lock()
	h.failGet = append(h.failGet, statuses...)
	h.mu.Unlock()
}

// FailReported makes the next reported-properties patches answer with these
// statuses.
func (h *Hub) FailReported(statuses ...int) {
	h.mu.Lock()
	h.failReport = append(h.failReport, statuses...)
	h.mu.Unlock()
}

// UpdateDesired merges patch into the desired properties, bumps their
// $version and, when push is true, sends the patch to the connected client
// on $iothub/twin/PATCH/properties/desired/?$version=N. It returns the new
// version.
func (h *Hub) UpdateDesired(patch string, push bool) int64 {
	var p map[string]any
	if err := json.Unmarshal([]byte(patch), &p); err != nil {
		h.t.Fatalf("mqtttest: desired patch: %v", err)
	}
	h.mu.Lock()
	mergeMap(h.desired, p)
	h.desiredVer++
	v := h.desiredVer
	p["$version"] = v
	body, _ := json.Marshal(p)
	var cls []*mqtt.Client
	if push {
		for _, cl := range h.clients {
			if _, ok := cl.State.Subscriptions.Get("$iothub/twin/PATCH/properties/desired/#"); ok {
				cls = append(cls, cl)
			}
		}
	}
	h.mu.Unlock()
	for _, cl := range cls {
		writePublish(cl, "$iothub/twin/PATCH/properties/desired/?$version="+strconv.FormatInt(v, 10), body)
	}
	h.signal()
	return v
}

// Reported returns the reported properties (merged) and their version.
func (h *Hub) Reported() (map[string]any, int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, _ := json.Marshal(h.reported)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m, h.reportedVer
}

// ReportedPatches returns the reported patches accepted, in order.
func (h *Hub) ReportedPatches() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte(nil), h.patches...)
}

// Messages returns the telemetry messages accepted (PUBACKed), in order.
func (h *Hub) Messages() []HubMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]HubMessage(nil), h.messages...)
}

// Sessions returns how many sessions the hub has established: accepted
// connections, counted once they are set up and DropClients can drop
// them. A CONNECT is in Connects before its session is established, and
// the client may see its CONNACK before that too.
func (h *Hub) Sessions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessions
}

// Connects returns every CONNECT received, accepted or not.
func (h *Hub) Connects() []HubConnect {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]HubConnect(nil), h.connects...)
}

// Violations returns the protocol violations the hub noticed.
func (h *Hub) Violations() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.violations...)
}

// Rejections returns why the hub closed connections on bad packets
// (oversize, QoS 2).
func (h *Hub) Rejections() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.rejected...)
}

// TwinGets returns how many twin GETs the hub answered.
func (h *Hub) TwinGets() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gets
}

// ExpiredKicks returns how many connections the hub closed because their
// token expired.
func (h *Hub) ExpiredKicks() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.expiredKick
}

// Connected reports whether a client is connected.
func (h *Hub) Connected() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients) > 0
}

// WaitFor polls cond (every 20 ms, and whenever the hub's state changes)
// until it holds or timeout passes; then it fails the test with what.
func (h *Hub) WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("mqtttest: timed out after %s waiting for %s", timeout, what)
		}
		h.mu.Lock()
		ch := h.changed
		h.mu.Unlock()
		select {
		case <-ch:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (h *Hub) signal() {
	h.mu.Lock()
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

func (h *Hub) violation(format string, args ...any) {
	h.mu.Lock()
	h.violations = append(h.violations, fmt.Sprintf(format, args...))
	h.mu.Unlock()
}

func (h *Hub) eventsTopic() string {
	return "devices/" + h.o.DeviceID + "/modules/" + h.o.ModuleID + "/messages/events/"
}

// verifyConnect checks a CONNECT as IoT Hub does.
func (h *Hub) verifyConnect(cl *mqtt.Client, pk packets.Packet) (HubConnect, error) {
	c := HubConnect{ClientID: pk.Connect.ClientIdentifier, Username: string(pk.Connect.Username), Clean: pk.Connect.Clean,
		KeepAlive: pk.Connect.Keepalive, Protocol: pk.ProtocolVersion, At: time.Now(), RemoteAddr: cl.Net.Remote}
	if pk.ProtocolVersion != 4 {
		return c, fmt.Errorf("protocol version %d: only MQTT 3.1.1 (4)", pk.ProtocolVersion)
	}
	if want := h.o.DeviceID + "/" + h.o.ModuleID; c.ClientID != want {
		return c, fmt.Errorf("client id %q, want %q", c.ClientID, want)
	}
	prefix := h.o.HubHostName + "/" + h.o.DeviceID + "/" + h.o.ModuleID + "/?"
	if !strings.HasPrefix(c.Username, prefix) {
		return c, fmt.Errorf("username %q does not start with %q", c.Username, prefix)
	}
	q, err := url.ParseQuery(c.Username[len(prefix):])
	if err != nil {
		return c, fmt.Errorf("username query: %w", err)
	}
	c.APIVersion, c.ClientType = q.Get("api-version"), q.Get("DeviceClientType")
	if c.APIVersion == "" {
		return c, errors.New("username has no api-version")
	}
	if !slices.ContainsFunc(h.o.ClientTypes, func(p string) bool { return strings.HasPrefix(c.ClientType, p) }) {
		return c, fmt.Errorf("DeviceClientType %q does not start with one of %q", c.ClientType, h.o.ClientTypes)
	}
	c.Password = string(pk.Connect.Password)
	h.mu.Lock()
	key := h.key
	h.mu.Unlock()
	if f, err := SASFields(c.Password); err == nil && f["skn"] != "" {
		name, err := url.PathUnescape(f["skn"])
		if err != nil {
			return c, fmt.Errorf("token skn: %w", err)
		}
		if key = h.o.Policies[name]; key == nil {
			return c, fmt.Errorf("token skn %q names no shared access policy of the hub", name)
		}
	}
	exp, resource, err := VerifySAS(c.Password, key, time.Now())
	c.TokenExpiry, c.ResourceSeen = exp, resource
	if err != nil {
		return c, err
	}
	if want := h.o.HubHostName + "/devices/" + h.o.DeviceID + "/modules/" + h.o.ModuleID; resource != want {
		return c, fmt.Errorf("token resource %q, want %q", resource, want)
	}
	return c, nil
}

// SASFields splits a SharedAccessSignature token into its fields (sr, sig,
// se, skn …), values as written (percent-encoded). A field given twice is
// an error.
func SASFields(token string) (map[string]string, error) {
	rest, ok := strings.CutPrefix(token, "SharedAccessSignature ")
	if !ok {
		return nil, errors.New("password is not a SharedAccessSignature")
	}
	fields := map[string]string{}
	for f := range strings.SplitSeq(rest, "&") {
		k, v, _ := strings.Cut(f, "=")
		if _, dup := fields[k]; dup {
			return nil, fmt.Errorf("token field %q given twice", k)
		}
		fields[k] = v
	}
	return fields, nil
}

// VerifySAS checks a SharedAccessSignature token against key: the
// signature over sr + "\n" + se (sr as written in the token), and that it
// has not expired at now. It returns the expiry and the decoded resource.
func VerifySAS(token string, key []byte, now time.Time) (time.Time, string, error) {
	fields, err := SASFields(token)
	if err != nil {
		return time.Time{}, "", err
	}
	sr, sig, se := fields["sr"], fields["sig"], fields["se"]
	if sr == "" || sig == "" || se == "" {
		return time.Time{}, "", errors.New("token lacks sr, sig or se")
	}
	if strings.Contains(sig, "+") || strings.Contains(sr, "+") {
		return time.Time{}, "", errors.New("token has an unencoded '+'")
	}
	secs, err := strconv.ParseInt(se, 10, 64)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("token se %q: %w", se, err)
	}
	exp := time.Unix(secs, 0)
	resource, err := url.PathUnescape(sr)
	if err != nil {
		return exp, "", fmt.Errorf("token sr: %w", err)
	}
	gotSig, err := url.PathUnescape(sig)
	if err != nil {
		return exp, resource, fmt.Errorf("token sig: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(sr + "\n" + se))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(gotSig), []byte(want)) {
		return exp, resource, errors.New("token signature does not verify with the module key")
	}
	if !exp.After(now) {
		return exp, resource, fmt.Errorf("token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	return exp, resource, nil
}

// ParsePropertyBag decodes a telemetry property bag (RFC 3986 encoding; a
// '+' is an error, since IoT Hub would not read it as a space).
func ParsePropertyBag(bag string) (map[string]string, error) {
	props := map[string]string{}
	if bag == "" {
		return props, nil
	}
	if strings.Contains(bag, "+") {
		return nil, fmt.Errorf("property bag %q has a '+'", bag)
	}
	for kv := range strings.SplitSeq(bag, "&") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("property %q is not name=value", kv)
		}
		dk, err := url.PathUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("property name %q: %w", k, err)
		}
		dv, err := url.PathUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("property value %q: %w", v, err)
		}
		props[dk] = dv
	}
	return props, nil
}

func writePublish(cl *mqtt.Client, topic string, payload []byte) {
	_ = cl.WritePacket(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 0},
		TopicName:   topic,
		Payload:     payload,
	})
}

func mergeMap(dst, p map[string]any) {
	for k, v := range p {
		if strings.HasPrefix(k, "$") {
			continue
		}
		switch v := v.(type) {
		case nil:
			delete(dst, k)
		case map[string]any:
			d, ok := dst[k].(map[string]any)
			if !ok {
				d = map[string]any{}
			}
			mergeMap(d, v)
			dst[k] = d
		default:
			dst[k] = v
		}
	}
}

// hubHook implements the hub's behaviour in mochi's hook points.
type hubHook struct {
	mqtt.HookBase
	h *Hub
}

func (k *hubHook) ID() string { return "edgesec-iothub-emulator" }

func (k *hubHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPacketRead, mqtt.OnPublish,
		mqtt.OnSessionEstablished, mqtt.OnDisconnect}, []byte{b})
}

func (k *hubHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	h := k.h
	c, err := h.verifyConnect(cl, pk)
	c.Accepted = err == nil
	if err != nil {
		c.Reason = err.Error()
	}
	h.mu.Lock()
	h.connects = append(h.connects, c)
	h.mu.Unlock()
	h.signal()
	return err == nil
}

func (k *hubHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	h := k.h
	h.mu.Lock()
	if old, ok := h.clients[cl.ID]; ok && old != cl {
		h.violations = append(h.violations, "a second connection with the same identity while one was open")
	}
	h.clients[cl.ID] = cl
	h.sessions++
	var exp time.Time
	if n := len(h.connects); n > 0 {
		exp = h.connects[n-1].TokenExpiry
	}
	h.mu.Unlock()
	if !exp.IsZero() {
		// IoT Hub closes a connection when its token expires.
		time.AfterFunc(time.Until(exp), func() {
			if !cl.Closed() {
				h.mu.Lock()
				h.expiredKick++
				h.mu.Unlock()
				cl.Stop(errors.New("SAS token expired"))
			}
		})
	}
	h.signal()
}

func (k *hubHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h := k.h
	h.mu.Lock()
	if h.clients[cl.ID] == cl {
		delete(h.clients, cl.ID)
	}
	h.mu.Unlock()
	h.signal()
}

func (k *hubHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	h := k.h
	if write {
		if strings.HasPrefix(topic, h.eventsTopic()) || strings.HasPrefix(topic, "$iothub/twin/GET/") ||
			strings.HasPrefix(topic, "$iothub/twin/PATCH/properties/reported/") || strings.HasPrefix(topic, "$iothub/methods/res/") {
			return true
		}
	} else {
		switch topic {
		case "$iothub/twin/res/#", "$iothub/twin/PATCH/properties/desired/#", "$iothub/methods/POST/#",
			"devices/" + h.o.DeviceID + "/modules/" + h.o.ModuleID + "/inputs/#":
			return true
		}
	}
	h.violation("topic not allowed for the module (write=%v): %q", write, topic)
	return false
}

func (k *hubHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	h := k.h
	if pk.FixedHeader.Type != packets.Publish {
		return pk, nil
	}
	size := 1 + varintLen(pk.FixedHeader.Remaining) + pk.FixedHeader.Remaining
	var why string
	switch {
	case size > HubMaxPacket:
		why = fmt.Sprintf("packet of %d bytes exceeds %d", size, HubMaxPacket)
	case pk.FixedHeader.Qos == 2:
		why = "QoS 2 is not supported"
	}
	if why != "" {
		h.mu.Lock()
		h.rejected = append(h.rejected, why)
		h.mu.Unlock()
		h.signal()
		return pk, errors.New(why) // closes the connection, as IoT Hub does
	}
	return pk, nil
}

func varintLen(n int) int {
	l := 1
	for ; n >= 128; n >>= 7 {
		l++
	}
	return l
}

func (k *hubHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	h := k.h
	topic := pk.TopicName
	switch {
	case strings.HasPrefix(topic, h.eventsTopic()):
		h.mu.Lock()
		if h.dropNext > 0 {
			h.dropNext--
			h.mu.Unlock()
			cl.Stop(errors.New("dropped before PUBACK by the test"))
			return pk, packets.ErrRejectPacket
		}
		h.mu.Unlock()
		if pk.FixedHeader.Qos != 1 {
			h.violation("telemetry at QoS %d, want 1", pk.FixedHeader.Qos)
		}
		props, err := ParsePropertyBag(topic[len(h.eventsTopic()):])
		if err != nil {
			h.violation("telemetry topic %q: %v", topic, err)
		}
		h.mu.Lock()
		h.messages = append(h.messages, HubMessage{Topic: topic, Properties: props, Body: bytes.Clone(pk.Payload),
			PacketSize: 1 + varintLen(pk.FixedHeader.Remaining) + pk.FixedHeader.Remaining})
		h.mu.Unlock()
		h.signal()
		return pk, nil
	case strings.HasPrefix(topic, "$iothub/twin/GET/"):
		k.twinGet(cl, topic)
		return pk, packets.ErrRejectPacket
	case strings.HasPrefix(topic, "$iothub/twin/PATCH/properties/reported/"):
		k.twinReported(cl, topic, pk.Payload)
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
}

func ridOf(topic string) string {
	_, q, _ := strings.Cut(topic, "?")
	v, _ := url.ParseQuery(q)
	return v.Get("$rid")
}

func (k *hubHook) twinGet(cl *mqtt.Client, topic string) {
	h := k.h
	rid := ridOf(topic)
	if rid == "" {
		h.violation("twin GET without $rid: %q", topic)
		return
	}
	if _, ok := cl.State.Subscriptions.Get("$iothub/twin/res/#"); !ok {
		h.violation("twin GET before subscribing to $iothub/twin/res/#")
		return
	}
	if _, ok := cl.State.Subscriptions.Get("$iothub/twin/PATCH/properties/desired/#"); !ok {
		h.violation("twin GET before subscribing to desired patches")
	}
	h.mu.Lock()
	if len(h.failGet) > 0 {
		st := h.failGet[0]
		h.failGet = h.failGet[1:]
		h.mu.Unlock()
		writePublish(cl, fmt.Sprintf("$iothub/twin/res/%d/?$rid=%s", st, rid), []byte(`{"message":"injected failure"}`))
		return
	}
	desired := map[string]any{}
	b, _ := json.Marshal(h.desired)
	_ = json.Unmarshal(b, &desired)
	desired["$version"] = h.desiredVer
	reported := map[string]any{}
	b, _ = json.Marshal(h.reported)
	_ = json.Unmarshal(b, &reported)
	reported["$version"] = h.reportedVer
	h.gets++
	h.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"desired": desired, "reported": reported})
	writePublish(cl, "$iothub/twin/res/200/?$rid="+rid, body)
	h.signal()
}

func (k *hubHook) twinReported(cl *mqtt.Client, topic string, payload []byte) {
	h := k.h
	rid := ridOf(topic)
	if rid == "" {
		h.violation("reported patch without $rid: %q", topic)
		return
	}
	h.mu.Lock()
	if len(h.failReport) > 0 {
		st := h.failReport[0]
		h.failReport = h.failReport[1:]
		h.mu.Unlock()
		writePublish(cl, fmt.Sprintf("$iothub/twin/res/%d/?$rid=%s", st, rid), []byte(`{"message":"injected failure"}`))
		return
	}
	var p map[string]any
	if err := json.Unmarshal(payload, &p); err != nil {
		h.mu.Unlock()
		writePublish(cl, "$iothub/twin/res/400/?$rid="+rid, []byte(`{"message":"malformed"}`))
		return
	}
	mergeMap(h.reported, p)
	h.reportedVer++
	v := h.reportedVer
	h.patches = append(h.patches, bytes.Clone(payload))
	h.mu.Unlock()
	writePublish(cl, fmt.Sprintf("$iothub/twin/res/204/?$rid=%s&$version=%d", rid, v), nil)
	h.signal()
}

// PushRawPatch sends body as a desired patch with $version=version to the
// connected client without changing the hub's twin: a stale or duplicate
// patch, as IoT Hub may deliver after a reconnection. "$version" is set in
// the body too.
func (h *Hub) PushRawPatch(version int64, body string) {
	var p map[string]any
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		h.t.Fatalf("mqtttest: patch: %v", err)
	}
	p["$version"] = version
	raw, _ := json.Marshal(p)
	body = string(raw)
	h.mu.Lock()
	var cls []*mqtt.Client
	for _, cl := range h.clients {
		cls = append(cls, cl)
	}
	h.mu.Unlock()
	for _, cl := range cls {
		writePublish(cl, "$iothub/twin/PATCH/properties/desired/?$version="+strconv.FormatInt(version, 10), []byte(body))
	}
}
