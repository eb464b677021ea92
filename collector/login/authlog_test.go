package login

import (
	"bytes"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var authRef = time.Date(2024, time.March, 4, 0, 0, 0, 0, time.UTC)

func at(s string) time.Time { return ts(s) }

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestParseAuthLogFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/auth.log")
	require.NoError(t, err)
	var got []AuthEvent
	splitLines(data, func(line []byte) {
		if ev, ok := ParseAuthLine(line, authRef); ok {
			got = append(got, ev)
		}
	})
	want := []AuthEvent{
		{Kind: AuthFailed, Time: at("2024-03-03T12:00:00Z"), Host: "edge1", Program: "sshd", PID: 2001, Method: "password", User: "root", Addr: ip("203.0.113.5"), Port: 51122, Repeat: 1},
		{Kind: AuthInvalidUser, Time: at("2024-03-03T12:00:02Z"), Host: "edge1", Program: "sshd", PID: 2002, User: "admin", InvalidUser: true, Addr: ip("203.0.113.5"), Port: 51130, Repeat: 1},
		{Kind: AuthFailed, Time: at("2024-03-03T12:00:03Z"), Host: "edge1", Program: "sshd", PID: 2002, Method: "password", User: "admin", InvalidUser: true, Addr: ip("203.0.113.5"), Port: 51130, Repeat: 1},
		{Kind: AuthPAMFailure, Time: at("2024-03-03T12:00:03Z"), Host: "edge1", Program: "sshd", PID: 2002, Method: "pam_unix", Service: "sshd", User: "root", Addr: ip("203.0.113.5"), TTY: "ssh", Repeat: 1},
		{Kind: AuthAccepted, Time: at("2024-03-03T12:00:10Z"), Host: "edge1", Program: "sshd", PID: 2010, Method: "publickey", User: "alice", Addr: ip("2001:db8::66"), Port: 40022, Repeat: 1},
		{Kind: AuthPAMFailure, Time: at("2024-03-03T12:01:00Z"), Host: "edge1", Program: "login", PID: 700, Method: "pam_unix", Service: "login", User: "bob", TTY: "/dev/tty1", Repeat: 1},
		{Kind: AuthPAMFailure, Time: at("2024-03-03T12:02:00Z"), Host: "edge1", Program: "sudo", Method: "pam_unix", Service: "sudo", User: "alice", TTY: "/dev/pts/0", Repeat: 1},
		{Kind: AuthFailed, Time: at("2024-03-03T12:03:00Z"), Host: "edge1", Program: "sshd", PID: 2020, Method: "password", User: "root", Addr: ip("203.0.113.5"), Port: 51200, Repeat: 3},
		{Kind: AuthFailed, Time: at("2024-03-03T12:04:00Z"), Host: "edge1", Program: "sshd", PID: 2030, Method: "password", User: "x from 10.0.0.1 port 22 ssh2", InvalidUser: true, Addr: ip("198.51.100.9"), Port: 4242, Repeat: 1},
		{Kind: AuthAccepted, Time: at("2024-03-03T11:06:00.123456Z"), Host: "edge1", Program: "sshd-session", PID: 2040, Method: "password", User: "carol", Addr: ip("192.0.2.44"), Port: 50000, Repeat: 1},
		{Kind: AuthFailed, Time: at("2024-03-03T12:07:00Z"), Host: "edge1", Program: "sshd", PID: 2050, Method: "keyboard-interactive/pam", User: "oracle", InvalidUser: true, Addr: ip("198.51.100.7"), Port: 60000, Repeat: 1},
		{Kind: AuthFailed, Time: at("2024-03-03T12:08:00Z"), Host: "edge1", Program: "sshd", PID: 2060, Method: "none", User: "", InvalidUser: true, Addr: ip("198.51.100.8"), Port: 61000, Repeat: 1},
		{Kind: AuthPAMFailure, Time: at("2024-03-03T12:09:00Z"), Host: "edge1", Program: "su", PID: 2070, Method: "pam_unix", Service: "su", User: "root", RemoteHost: "gateway.example.net", TTY: "pts/0", Repeat: 1},
		{Kind: AuthFailed, Time: at("2024-03-03T12:10:00Z"), Host: "edge1", Program: "sshd", PID: 2080, Method: "password", User: "root", Addr: ip("fe80::1"), Port: 2222, Repeat: 1},
	}
	require.Len(t, got, len(want))
	for i := range want {
		g := got[i]
		g.Time = g.Time.UTC()
		assert.Equal(t, want[i], g, "event %d", i)
	}
}

func TestParseAuthLineYear(t *testing.T) {
	ref := time.Date(2024, time.January, 1, 0, 30, 0, 0, time.UTC)
	ev, ok := ParseAuthLine([]byte("Dec 31 23:59:59 h sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2"), ref)
	require.True(t, ok)
	assert.Equal(t, 2023, ev.Time.Year())
	ev, ok = ParseAuthLine([]byte("Jan  1 00:10:00 h sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2"), ref)
	require.True(t, ok)
	assert.Equal(t, 2024, ev.Time.Year())
}

func TestParseAuthLineRejects(t *testing.T) {
	for _, line := range []string{
		"",
		"garbage",
		"Mar  3 12:00:00 edge1 sshd[2001]: Connection closed by 203.0.113.5 port 51122 [preauth]",
		"Mar  3 12:00:00 edge1 sshd[x]: Failed password for root from 203.0.113.5 port 51122 ssh2",
		"Mar  3 12:00:00 edge1 sshd[1]: Failed password for root from not-an-ip port 51122 ssh2",
		"Mar  3 12:00:00 edge1 sshd[1]: Failed password for root from 203.0.113.5 port 99999 ssh2",
		"Mar  3 12:00:00 edge1 sshd[1]: Failed password for root from 203.0.113.5",
		"Foo  3 12:00:00 edge1 sshd[1]: Failed password for root from 203.0.113.5 port 1 ssh2",
		"Mar 33 12:00:00 edge1 sshd[1]: Failed password for root from 203.0.113.5 port 1 ssh2",
		"Mar  3 12:00:00 edge1 sshd[1]: message repeated x times: [ Failed password for root from 203.0.113.5 port 1 ssh2]",
		"Mar  3 12:00:00 edge1 sshd[1]: pam_unix(sshd:session): session opened for user root",
		"Mar  3 12:00:00 edge1 sshd[1]: Failed password for root from 203.0.113.5 port 1 ssh2 \xff",
	} {
		_, ok := ParseAuthLine([]byte(line), authRef)
		assert.False(t, ok, "%q", line)
	}
	_, ok := ParseAuthLine(append([]byte("Mar  3 12:00:00 h sshd[1]: Failed password for "), bytes.Repeat([]byte("a"), MaxAuthLine)...), authRef)
	assert.False(t, ok)
}

func TestSplitLines(t *testing.T) {
	var lines []string
	n := splitLines([]byte("a\r\nb\n\nc"), func(l []byte) { lines = append(lines, string(l)) })
	assert.Equal(t, []string{"a", "b", ""}, lines)
	assert.Equal(t, 6, n)
}

func FuzzParseAuthLine(f *testing.F) {
	data, err := os.ReadFile("testdata/auth.log")
	if err != nil {
		f.Fatal(err)
	}
	splitLines(data, func(line []byte) { f.Add(append([]byte(nil), line...)) })
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, ok := ParseAuthLine(line, authRef)
		if !ok {
			return
		}
		if ev.Kind < AuthFailed || ev.Kind > AuthPAMFailure || ev.Repeat < 1 || ev.Port < 0 || ev.Port > 65535 || ev.PID < 0 {
			t.Fatalf("bad event %+v", ev)
		}
		if ev.Addr.IsValid() && (ev.Addr.Zone() != "" || ev.Addr.Is4In6()) {
			t.Fatalf("address %v", ev.Addr)
		}
		if len(ev.User) > len(line) || ev.Program == "" {
			t.Fatalf("bad event %+v", ev)
		}
	})
}
