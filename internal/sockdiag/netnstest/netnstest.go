// Package netnstest creates throw-away network namespaces for tests, so
// that socket tables read in them hold exactly the sockets a test opened.
package netnstest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"testing"

	"github.com/edgesec/edgesec/internal/sockdiag"
)

// NS is a network namespace created by [New] and deleted at the end of
// the test.
type NS struct {
	// Name is the name given to `ip netns add`.
	Name string
	// Path is the namespace file (/run/netns/<Name>).
	Path string
}

// New creates a fresh network namespace with its loopback interface up.
// It skips the test when not running as root or when ip(8) is missing.
func New(t testing.TB) *NS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace with `ip netns add`")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("needs ip(8) (Debian package iproute2) to create a network namespace")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "edgesec-test-" + hex.EncodeToString(b[:])
	if out, err := exec.Command(ip, "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace (ip netns add: %v: %s)", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(ip, "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	if out, err := exec.Command(ip, "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s link set lo up: %v: %s", name, err, out)
	}
	return &NS{Name: name, Path: "/run/netns/" + name}
}

// Do runs fn on an OS thread switched into the namespace: sockets fn
// opens (net.Listen, net.Dial…) belong to the namespace for their whole
// life. It fails the test on error.
func (ns *NS) Do(t testing.TB, fn func() error) {
	t.Helper()
	if err := sockdiag.InNetNS(ns.Path, fn); err != nil {
		t.Fatalf("in network namespace %s: %v", ns.Name, err)
	}
}
