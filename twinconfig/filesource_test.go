package twinconfig

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

type delivery struct {
	doc []byte
	err error
}

// startWatch runs s.Watch in a goroutine and returns the deliveries and a
// stop function that cancels and waits for Watch to return nil.
func startWatch(t *testing.T, s *FileSource) (<-chan delivery, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan delivery, 16)
	done := make(chan error, 1)
	go func() {
		done <- s.Watch(ctx, func(doc []byte, err error) {
			ch <- delivery{append([]byte(nil), doc...), err}
		})
	}()
	stop := func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Fatal("Watch did not return after cancel")
		}
	}
	return ch, stop
}

func next(t *testing.T, ch <-chan delivery) delivery {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery")
		return delivery{}
	}
}

func nothing(t *testing.T, ch <-chan delivery, wait time.Duration) {
	t.Helper()
	select {
	case d := <-ch:
		t.Fatalf("unexpected delivery %q, %v", d.doc, d.err)
	case <-time.After(wait):
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
}

func renameReplace(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".swp")
	writeFile(t, tmp, content)
	require.NoError(t, os.Rename(tmp, path))
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func TestFileSourceInotify(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := filepath.Join(t.TempDir(), "config.json")
	writeFile(t, path, `{"snapshotFrequency":{"value":"PT1H"}}`)
	// A long poll interval: changes must be seen through inotify.
	s := &FileSource{Path: path, Logger: testLogger(t), PollInterval: time.Hour}
	ch, stop := startWatch(t, s)
	defer stop()

	d := next(t, ch)
	require.NoError(t, d.err)
	require.JSONEq(t, `{"snapshotFrequency":{"value":"PT1H"}}`, string(d.doc))

	// Rewrite in place.
	writeFile(t, path, `{"snapshotFrequency":{"value":"PT2H"}}`)
	d = next(t, ch)
	require.NoError(t, d.err)
	require.Contains(t, string(d.doc), "PT2H")

	// Rename-replace, as editors and atomic writers do.
	renameReplace(t, path, `{"snapshotFrequency":{"value":"PT3H"}}`)
	d = next(t, ch)
	require.NoError(t, d.err)
	require.Contains(t, string(d.doc), "PT3H")

	// Unchanged content is not delivered again; unrelated files are ignored.
	writeFile(t, path, `{"snapshotFrequency":{"value":"PT3H"}}`)
	writeFile(t, filepath.Join(filepath.Dir(path), "other.json"), `{}`)
	nothing(t, ch, 200*time.Millisecond)

	// Removal is reported as an error, once, and the watch goes on.
	require.NoError(t, os.Remove(path))
	d = next(t, ch)
	require.ErrorIs(t, d.err, os.ErrNotExist)
	require.Nil(t, d.doc)
	nothing(t, ch, 100*time.Millisecond)

	renameReplace(t, path, `{"snapshotFrequency":{"value":"PT4H"}}`)
	d = next(t, ch)
	require.NoError(t, d.err)
	require.Contains(t, string(d.doc), "PT4H")

	// Too large (10 MB): an error, not an abort.
	writeFile(t, path, string(bytes.Repeat([]byte(" "), 10<<20)))
	d = next(t, ch)
	require.ErrorIs(t, d.err, ErrTooLarge)

	writeFile(t, path, `{}`)
	d = next(t, ch)
	require.NoError(t, d.err)
	require.Equal(t, `{}`, string(d.doc))
}

func TestFileSourcePolling(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := filepath.Join(t.TempDir(), "config.json")
	s := &FileSource{Path: path, PollInterval: 20 * time.Millisecond, noInotify: true}
	ch, stop := startWatch(t, s)
	defer stop()

	d := next(t, ch)
	require.ErrorIs(t, d.err, os.ErrNotExist, "a missing file at start is reported")

	writeFile(t, path, `{"a":1}`)
	d = next(t, ch)
	require.NoError(t, d.err)
	require.Equal(t, `{"a":1}`, string(d.doc))

	renameReplace(t, path, `{"a":2}`)
	d = next(t, ch)
	require.NoError(t, d.err)
	require.Equal(t, `{"a":2}`, string(d.doc))
}

func TestFileSourceMissingDirectory(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := filepath.Join(t.TempDir(), "later")
	path := filepath.Join(dir, "config.json")
	s := &FileSource{Path: path, PollInterval: 20 * time.Millisecond}
	ch, stop := startWatch(t, s)
	defer stop()

	d := next(t, ch)
	require.Error(t, d.err)

	// The directory appears later: the source falls back to polling and
	// then watches it.
	require.NoError(t, os.Mkdir(dir, 0o700))
	writeFile(t, path, `{"b":1}`)
	d = next(t, ch)
	require.NoError(t, d.err)
	require.Equal(t, `{"b":1}`, string(d.doc))

	renameReplace(t, path, `{"b":2}`)
	d = next(t, ch)
	require.NoError(t, d.err)
	require.Equal(t, `{"b":2}`, string(d.doc))
}

func TestFileSourceNeedsPathAndApply(t *testing.T) {
	require.Error(t, (&FileSource{}).Watch(context.Background(), func([]byte, error) {}))
	require.Error(t, (&FileSource{Path: "/x"}).Watch(context.Background(), nil))
}

func TestFileSourceStopsOnCancel(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := filepath.Join(t.TempDir(), "config.json")
	writeFile(t, path, `{}`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	err := (&FileSource{Path: path}).Watch(ctx, func([]byte, error) { calls++ })
	require.NoError(t, err)
	require.Equal(t, 1, calls, "the initial content is delivered")
}

func TestFileSourceWithManager(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := filepath.Join(t.TempDir(), "config.json")
	writeFile(t, path, `{"snapshotFrequency":{"value":"PT1H"}}`)
	m := NewManager(Default())
	applied := make(chan Config, 8)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- (&FileSource{Path: path, PollInterval: time.Hour}).Watch(ctx, func(doc []byte, err error) {
			if err != nil {
				return
			}
			cfg, _, _ := m.Apply(doc, time.Now())
			applied <- cfg
		})
	}()
	require.Equal(t, time.Hour, (<-applied).SnapshotFrequency)
	renameReplace(t, path, `{"snapshotFrequency":{"value":"bad"}}`)
	require.Equal(t, time.Hour, (<-applied).SnapshotFrequency, "last good kept")
	cancel()
	require.NoError(t, <-done)
}
