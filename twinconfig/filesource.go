package twinconfig

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgesec/edgesec/internal/backoff"
)

// DefaultPollInterval is FileSource's PollInterval when it is zero.
const DefaultPollInterval = 2 * time.Second

// FileSource is a local JSON configuration file, in any shape [Decode]
// accepts, watched for changes.
type FileSource struct {
	// Path is the file's path.
	Path string
	// Logger receives the source's own diagnostics; nil discards them.
	Logger *slog.Logger
	// PollInterval is how often the file is checked when inotify is not
	// available, and as a safety net when it is (default 2s).
	PollInterval time.Duration

	// noInotify forces polling (tests).
	noInotify bool
}

// inotifyMask: the directory events after which the file is looked at
// again. IN_MODIFY is left out so that a file being written is read once,
// after it is closed.
const inotifyMask = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE |
	unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

// Watch calls apply with the file's content at start, and again each time
// the content changes, until ctx is cancelled; then it returns nil.
//
// It watches the parent directory with inotify, so that editors and tools
// that replace the file by renaming a new one over it (and Kubernetes-style
// symlink swaps) are seen as well as writes in place, and it also polls
// every PollInterval (the only mechanism if inotify is unavailable).
//
// A file that cannot be read (missing, unreadable, larger than
// MaxDocumentSize) is reported to apply as (nil, err); the watch goes on
// and reports the file again once it can be read. apply is called from
// Watch's goroutine, never concurrently, and only when the content (or the
// error) differs from what it was last given.
//
// Watch returns an error only when it cannot start: an empty Path or a nil
// apply.
func (s *FileSource) Watch(ctx context.Context, apply func(doc []byte, err error)) error {
	if s.Path == "" || apply == nil {
		return errors.New("twinconfig: FileSource.Watch needs a Path and an apply function")
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	poll := s.PollInterval
	if poll <= 0 {
		poll = DefaultPollInterval
	}
	w := fileWatch{path: s.Path, log: log, apply: apply}

	// Watch first, then read: a change between the two is not missed.
	var in *inotify
	if !s.noInotify {
		var err error
		in, err = newInotify(filepath.Dir(s.Path))
		if err != nil {
			log.Warn("twinconfig: inotify unavailable, polling the configuration file",
				slog.String("path", s.Path), slog.Duration("interval", poll), slog.Any("error", err))
		} else {
			defer in.close()
		}
	}
	w.check()
	if in == nil {
		t := time.NewTicker(poll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				w.check()
			}
		}
	}

	stop := context.AfterFunc(ctx, in.interrupt)
	defer stop()
	for {
		if in.wd < 0 {
			// No directory watch (the directory is missing, or reading
			// failed): poll, and try to watch again.
			if !backoff.Sleep(ctx, poll) {
				return nil
			}
			if err := in.rewatch(); err != nil {
				log.Debug("twinconfig: inotify watch", slog.String("path", s.Path), slog.Any("error", err))
			}
			w.check()
			continue
		}
		err := in.wait(ctx, poll)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			// The watch is gone (directory removed or moved, queue
			// overflow) or reading failed: re-arm it.
			log.Debug("twinconfig: re-arming inotify", slog.String("path", s.Path), slog.Any("error", err))
			if !errors.Is(err, errWatchLost) && !backoff.Sleep(ctx, poll) {
				return nil // do not spin on a failing read
			}
			if err := in.rewatch(); err != nil {
				log.Debug("twinconfig: inotify watch", slog.String("path", s.Path), slog.Any("error", err))
			}
		}
		// Events arrived or the poll interval passed (the safety net).
		w.check()
	}
}

// fileWatch remembers what apply was last given.
type fileWatch struct {
	path    string
	log     *slog.Logger
	apply   func([]byte, error)
	started bool
	sum     [sha256.Size]byte
	errText string
}

// check reads the file and calls apply if its content or error changed.
func (w *fileWatch) check() {
	doc, err := readLimited(w.path)
	if err != nil {
		if w.started && w.errText == err.Error() {
			return
		}
		w.started, w.errText, w.sum = true, err.Error(), [sha256.Size]byte{}
		w.log.Warn("twinconfig: cannot read the configuration file", slog.String("path", w.path), slog.Any("error", err))
		w.apply(nil, err)
		return
	}
	sum := sha256.Sum256(doc)
	if w.started && w.errText == "" && sum == w.sum {
		return
	}
	w.started, w.errText, w.sum = true, "", sum
	w.log.Info("twinconfig: configuration file loaded", slog.String("path", w.path), slog.Int("bytes", len(doc)))
	w.apply(doc, nil)
}

// readLimited reads at most MaxDocumentSize bytes of path.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("twinconfig: %w", err)
	}
	defer f.Close()
	var b bytes.Buffer
	n, err := io.Copy(&b, io.LimitReader(f, MaxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("twinconfig: reading %s: %w", path, err)
	}
	if n > MaxDocumentSize {
		return nil, fmt.Errorf("twinconfig: %s: %w (limit %d bytes)", path, ErrTooLarge, MaxDocumentSize)
	}
	return b.Bytes(), nil
}

// inotify is a non-blocking inotify instance watching one directory,
// read through the runtime poller so reads honour deadlines.
type inotify struct {
	dir string
	fd  int
	f   *os.File
	wd  int
	buf []byte
}

func newInotify(dir string) (*inotify, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1: %w", err)
	}
	in := &inotify{dir: dir, fd: fd, f: os.NewFile(uintptr(fd), "inotify"), wd: -1,
		buf: make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))}
	if err := in.rewatch(); err != nil {
		in.close()
		return nil, err
	}
	return in, nil
}

// rewatch (re-)adds the directory watch.
func (in *inotify) rewatch() error {
	wd, err := unix.InotifyAddWatch(in.fd, in.dir, inotifyMask)
	if err != nil {
		in.wd = -1
		return fmt.Errorf("inotify_add_watch %s: %w", in.dir, err)
	}
	in.wd = wd
	return nil
}

func (in *inotify) close() { _ = in.f.Close() }

// interrupt makes a blocked wait return.
func (in *inotify) interrupt() { _ = in.f.SetReadDeadline(time.Now()) }

var errWatchLost = errors.New("inotify watch lost")

// wait blocks until directory events arrive, timeout passes, or ctx is
// cancelled. An error means the watch needs re-arming; wait then marks it
// missing so that the caller polls before the next wait.
func (in *inotify) wait(ctx context.Context, timeout time.Duration) error {
	if err := in.f.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		in.wd = -1
		return fmt.Errorf("inotify deadline: %w", err)
	}
	if ctx.Err() != nil { // cancelled before the deadline was set: see interrupt
		return nil
	}
	n, err := in.f.Read(in.buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	if err != nil {
		in.wd = -1
		return fmt.Errorf("inotify read: %w", err)
	}
	for off := 0; off+unix.SizeofInotifyEvent <= n; {
		// struct inotify_event: wd int32, mask, cookie, len uint32, name.
		mask := binary.NativeEndian.Uint32(in.buf[off+4:])
		nameLen := binary.NativeEndian.Uint32(in.buf[off+12:])
		off += unix.SizeofInotifyEvent + int(nameLen)
		if mask&(unix.IN_Q_OVERFLOW|unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0 {
			in.wd = -1
			return errWatchLost
		}
	}
	return nil
}
