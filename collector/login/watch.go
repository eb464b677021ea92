package login

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgesec/edgesec/internal/backoff"
)

// DefaultRecheckInterval is how often watched files are checked although
// inotify reported no change: a safety net for changes it does not report
// (a file system that does not support it, a watch that could not be
// added).
const DefaultRecheckInterval = 10 * time.Minute

// minCheckGap is the least time between two checks that inotify causes: a
// log written line by line (a brute-force attempt, a busy sshd) is read in
// batches, not once per write.
const minCheckGap = 250 * time.Millisecond

// Inotify events that make the collector check the files: a followed file
// written, truncated or replaced (moved or deleted: rotation), and a file
// created or moved into a followed directory (a file that appears, the
// new file after a rotation).
const (
	fileEvents = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_MOVE_SELF | unix.IN_DELETE_SELF
	dirEvents  = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_ONLYDIR
)

// watcher says when the followed files may have changed, from inotify
// watches on each file and on the directories that hold them. Its events
// are not decoded: any of them means "check now" (a check of an unchanged
// file reads nothing). It is used by one goroutine (Run's); close may be
// called from another to end a wait.
type watcher struct {
	f   *os.File // the inotify descriptor, waited on in the runtime's poller
	fd  int      // the same, for inotify_add_watch (f.Fd would make it blocking)
	buf []byte
}

// inotifyBufSize is the read buffer's size: room for at least fifteen
// events with the longest name (16 bytes and NAME_MAX+1), more than the
// handful of files and directories watched can queue between two reads (a
// read only has to learn that something changed).
const inotifyBufSize = 4 << 10

// newWatcher returns a watcher, or an error where inotify is not
// available (the caller then polls).
func newWatcher() (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("login: inotify: %w", err)
	}
	return &watcher{f: os.NewFile(uintptr(fd), "inotify"), fd: fd, buf: make([]byte, inotifyBufSize)}, nil
}

// watch adds the watches of paths (host paths, symbolic links resolved):
// each file that exists and each directory. Watching an inode already
// watched changes nothing; after a rotation the new file is watched too.
// It returns the first error other than a missing file or directory.
func (w *watcher) watch(paths []string) error {
	var first error
	add := func(p string, mask uint32) {
		if _, err := unix.InotifyAddWatch(w.fd, p, mask); err != nil && !errors.Is(err, unix.ENOENT) && first == nil {
			first = fmt.Errorf("login: watching %s: %w", p, err)
		}
	}
	dirs := map[string]bool{}
	for _, p := range paths {
		if d := filepath.Dir(p); !dirs[d] {
			dirs[d] = true
			add(d, dirEvents)
		}
		add(p, fileEvents)
	}
	return first
}

// wait blocks until inotify reports a change (true), d passes (false) or
// the watcher is closed (an error wrapping os.ErrClosed).
func (w *watcher) wait(d time.Duration) (bool, error) {
	if err := w.f.SetReadDeadline(time.Now().Add(d)); err != nil {
		return false, err
	}
	_, err := w.f.Read(w.buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// close closes the inotify descriptor; a wait in progress returns.
func (w *watcher) close() error { return w.f.Close() }

// waitForChange blocks until the files may have changed: an inotify event
// (at least minCheckGap after the last check), the recheck interval (the
// poll interval if a watch could not be added), or, without a watcher, the
// poll interval. It returns false when ctx is done. A watcher that fails
// is closed and *w set to nil: the collector polls from then on.
func (c *Collector) waitForChange(ctx context.Context, w **watcher, lastCheck time.Time, degraded bool) bool {
	if *w == nil {
		return backoff.Sleep(ctx, c.interval-time.Since(lastCheck))
	}
	every := c.recheck
	if degraded {
		every = c.interval
	}
	changed, err := (*w).wait(every - time.Since(lastCheck))
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		c.log.Warn("login: inotify failed; polling the files", "err", err)
		_ = (*w).close()
		*w = nil
		return backoff.Sleep(ctx, c.interval-time.Since(lastCheck))
	}
	if changed {
		return backoff.Sleep(ctx, minCheckGap-time.Since(lastCheck))
	}
	return true
}
