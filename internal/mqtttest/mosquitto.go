package mqtttest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Mosquitto is a real mosquitto broker started for a test on a free
// loopback port, with TLS (a test CA) and a password file.
type Mosquitto struct {
	// Port is the TLS listener's port; URL is mqtts://localhost:Port.
	Port int
	URL  string
	// CA signed the broker's certificate (for localhost and 127.0.0.1)
	// and the client certificate; CAFile is its PEM file.
	CA     *CA
	CAFile string
	// ClientCertFile and ClientKeyFile are a client certificate the broker
	// accepts (it does not require one on Port).
	ClientCertFile, ClientKeyFile string
	// MTLSPort is a second TLS listener that requires a client certificate
	// signed by CA (and the password as well); MTLSURL is
	// mqtts://localhost:MTLSPort.
	MTLSPort int
	MTLSURL  string
	// User and Password are an account in the password file.
	User, Password string

	dir  string
	conf string
	mu   sync.Mutex
	cmd  *exec.Cmd
	log  *syncBuffer
	t    testing.TB

	waitExit chan struct{}
}

// MosquittoPath returns the mosquitto binary, or "" when it is not
// installed.
func MosquittoPath() string {
	for _, p := range []string{"mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

// StartMosquitto starts mosquitto; the test is skipped when the binary or
// mosquitto_passwd is missing (Debian package "mosquitto"). The broker
// stops at the end of the test.
func StartMosquitto(t testing.TB) *Mosquitto {
	t.Helper()
	bin := MosquittoPath()
	if bin == "" {
		t.Skip("needs the mosquitto broker: apt-get install mosquitto")
	}
	passwd, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		t.Skip("needs mosquitto_passwd: apt-get install mosquitto")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("mqtttest: %v", err)
	}
	m := &Mosquitto{CA: NewCA(t, "edgesec test mosquitto CA"), User: "edgesec", Password: "s3cret p@ss+word", dir: dir, t: t}
	m.CAFile = m.CA.WriteCert(t, dir)
	certFile, keyFile := m.CA.Issue(t, "localhost", []string{"localhost", "127.0.0.1"}, false).Write(t, dir, "server")
	m.ClientCertFile, m.ClientKeyFile = m.CA.Issue(t, "edgesec-client", nil, true).Write(t, dir, "client")
	pwFile := filepath.Join(dir, "passwd")
	if out, err := exec.Command(passwd, "-b", "-c", pwFile, m.User, m.Password).CombinedOutput(); err != nil {
		t.Fatalf("mqtttest: mosquitto_passwd: %v: %s", err, out)
	}
	_ = os.Chmod(pwFile, 0o600)
	m.Port = freePort(t)
	m.URL = "mqtts://localhost:" + strconv.Itoa(m.Port)
	m.MTLSPort = freePort(t)
	m.MTLSURL = "mqtts://localhost:" + strconv.Itoa(m.MTLSPort)
	m.conf = filepath.Join(dir, "mosquitto.conf")
	conf := fmt.Sprintf(`user root
per_listener_settings false
allow_anonymous false
password_file %s
persistence true
persistence_location %s/
log_dest stderr
log_type error
log_type warning
log_type notice
listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
tls_version tlsv1.2
require_certificate false
listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
tls_version tlsv1.2
require_certificate true
`, pwFile, dir, m.Port, m.CAFile, certFile, keyFile, m.MTLSPort, m.CAFile, certFile, keyFile)
	if err := os.WriteFile(m.conf, []byte(conf), 0o644); err != nil {
		t.Fatalf("mqtttest: %v", err)
	}
	m.start(bin)
	t.Cleanup(m.Stop)
	return m
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mqtttest: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (m *Mosquitto) start(bin string) {
	m.t.Helper()
	log := &syncBuffer{}
	cmd := exec.Command(bin, "-c", m.conf)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("mqtttest: start mosquitto: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(m.Port)), 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			m.t.Fatalf("mqtttest: mosquitto exited: %s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			m.t.Fatalf("mqtttest: mosquitto did not listen on %d: %s", m.Port, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.mu.Lock()
	m.cmd, m.log = cmd, log
	m.mu.Unlock()
	m.waitExit = exited
}

// Stop stops the broker (SIGTERM, then SIGKILL after 5 s).
func (m *Mosquitto) Stop() {
	m.mu.Lock()
	cmd, exited := m.cmd, m.waitExit
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Restart stops the broker, waits down, and starts it again on the same
// port. Persistent sessions (and their queued QoS 1 messages) survive:
// the broker saves them on exit.
func (m *Mosquitto) Restart(down time.Duration) {
	m.Stop()
	time.Sleep(down)
	m.start(MosquittoPath())
}

// Log returns what the broker logged.
func (m *Mosquitto) Log() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.log == nil {
		return ""
	}
	return m.log.String()
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
