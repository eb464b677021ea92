package login_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/collector/login"
	"github.com/edgesec/edgesec/event"
)

// The collector passes the conformance suite while sshd failures are
// appended to the host's auth log and logins to its wtmp (the trigger);
// it starts at the end of both, so every event it sends is one the
// trigger wrote.
func TestConformance(t *testing.T) {
	var root atomic.Value
	var n atomic.Int64
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "var/log"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "var/log/auth.log"), []byte("Jan  1 00:00:00 h sshd[1]: Failed password for old from 192.0.2.1 port 1 ssh2\n"), 0o640))
		root.Store(dir)
		c := login.New(login.Options{HostRoot: dir, StateDir: t.TempDir(), PollInterval: 20 * time.Millisecond})
		require.Equal(t, event.Login, c.Name())
		return c
	}, collectortest.WithTrigger(func(t *testing.T) {
		dir := root.Load().(string)
		i := n.Add(1)
		line := fmt.Sprintf("%s h sshd[%d]: Failed password for invalid user u%d from 198.51.100.%d port %d ssh2\n",
			time.Now().Format(time.Stamp), 1000+i, i, i%250+1, 40000+i)
		f, err := os.OpenFile(filepath.Join(dir, "var/log/auth.log"), os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString(line)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		rec, err := login.EncodeRecord(login.Record{Type: login.UserProcess, PID: int(2000 + i), Line: "pts/0", User: "root",
			Host: "192.0.2.9", Time: time.Now()}, login.Layout32)
		require.NoError(t, err)
		f, err = os.OpenFile(filepath.Join(dir, "var/log/wtmp"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		require.NoError(t, err)
		_, err = f.Write(rec)
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}), collectortest.WithMinEvents(2))
}
