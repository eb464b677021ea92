package file

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/edgesec/edgesec/transport"
)

// Transport writes one message body per line. It is safe for concurrent
// use: Send and Close may be called from any goroutine, and concurrent
// Sends write whole lines, one after the other.
type Transport struct {
	sem  chan struct{} // held while writing or closing; a lock that honours ctx
	w    io.Writer
	f    *os.File // the file Open opened, owned by the Transport; nil for New
	sync bool     // fsync after every write
	name string

	closed bool
	dirty  bool // a write failed part way: start the next line afresh
	buf    []byte
}

var _ transport.Transport = (*Transport)(nil)

// New returns a Transport writing to w, typically os.Stdout. New(nil)
// writes to os.Stdout. The Transport does not own w: Close does not close
// it. After each message, w is flushed when it has a Flush() error method
// (a *bufio.Writer), and synced when it is an *os.File that is a regular
// file (standard output redirected to a file); a pipe or terminal is not
// synced.
func New(w io.Writer) *Transport {
	if w == nil {
		w = os.Stdout
	}
	t := &Transport{sem: make(chan struct{}, 1), w: w, name: "writer"}
	if f, ok := w.(*os.File); ok {
		t.name = f.Name()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			t.sync = true
		}
	}
	return t
}

// Open returns a Transport appending to the file at path, created with
// permissions 0600 if it does not exist (an existing file is restricted to
// 0600 too). Every Send syncs the file before it returns nil. Close closes
// the file.
func Open(path string) (*Transport, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("file: open %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("file: stat %s: %w", path, err)
	}
	// Check the type before touching permissions: never chmod a device
	// (/dev/null) or a FIFO.
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("file: %s is not a regular file", path)
	}
	if fi.Mode().Perm() != 0o600 {
		if err := f.Chmod(0o600); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("file: restrict permissions of %s: %w", path, err)
		}
	}
	t := &Transport{sem: make(chan struct{}, 1), w: f, f: f, sync: true, name: path}
	// A crash during an earlier write may have left a partial line.
	if fi.Size() > 0 {
		last := make([]byte, 1)
		if r, err := os.Open(path); err == nil {
			if _, err := r.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
				t.dirty = true
			}
			_ = r.Close()
		}
	}
	return t, nil
}

func (t *Transport) lock(ctx context.Context) error {
	select {
	case t.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *Transport) unlock() { <-t.sem }

// Send writes m.Body as one line. It returns a permanent error
// ([transport.IsPermanent]) when the body is not valid JSON; a valid body
// that spans several lines (indented JSON) is compacted onto one line.
// Bodies built by the engine are compact already and are written as they
// are. Send returns nil once the line is written (and, for a file, synced);
// ctx bounds the wait for a concurrent Send or Close, not a write in
// progress. Send after Close returns [transport.ErrClosed].
func (t *Transport) Send(ctx context.Context, m transport.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !json.Valid(m.Body) {
		return transport.Permanent(fmt.Errorf("file: message %s: body is not valid JSON", m.ID))
	}
	if err := t.lock(ctx); err != nil {
		return err
	}
	defer t.unlock()
	if t.closed {
		return fmt.Errorf("file: %s: %w", t.name, transport.ErrClosed)
	}
	line := t.buf[:0]
	if t.dirty {
		line = append(line, '\n')
	}
	if bytes.ContainsAny(m.Body, "\r\n") {
		var b bytes.Buffer
		if err := json.Compact(&b, m.Body); err != nil {
			return transport.Permanent(fmt.Errorf("file: message %s: %w", m.ID, err))
		}
		line = append(line, b.Bytes()...)
	} else {
		line = append(line, m.Body...)
	}
	line = append(line, '\n')
	t.buf = line[:0]
	if cap(t.buf) > 1<<20 {
		t.buf = nil // do not keep a huge buffer around
	}
	return t.write(line)
}

// write writes one line and makes it durable. A line that was not
// completely written is removed from a file, or terminated on the next
// write to any other writer.
func (t *Transport) write(line []byte) error {
	var off int64 = -1
	if t.f != nil {
		if fi, err := t.f.Stat(); err == nil {
			off = fi.Size()
		}
	}
	n, err := t.w.Write(line)
	if err == nil && n < len(line) {
		err = io.ErrShortWrite
	}
	if err == nil {
		if fl, ok := t.w.(interface{ Flush() error }); ok {
			err = fl.Flush()
		}
	}
	if err == nil && t.sync {
		if f, ok := t.w.(*os.File); ok {
			if err = f.Sync(); err != nil {
				err = fmt.Errorf("sync: %w", err)
			}
		}
	}
	if err != nil {
		// A partial line would glue the next message to it: cut it off
		// in a file, or start the next line afresh elsewhere. A complete
		// line whose flush or sync failed stays; it is written again
		// when the engine retries (delivery is at least once).
		partial := n > 0 && n < len(line)
		if t.f != nil && off >= 0 && n > 0 {
			if terr := t.f.Truncate(off); terr == nil {
				partial = false
			}
		}
		t.dirty = partial
		return fmt.Errorf("file: write to %s: %w", t.name, err)
	}
	t.dirty = false
	return nil
}

// Close stops the Transport: it waits for a Send in progress (or for ctx),
// then syncs and closes the file Open opened. The writer given to New is
// not closed. Close is idempotent; later Sends return [transport.ErrClosed].
func (t *Transport) Close(ctx context.Context) error {
	if err := t.lock(ctx); err != nil {
		return fmt.Errorf("file: close: %w", err)
	}
	defer t.unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.f == nil {
		if fl, ok := t.w.(interface{ Flush() error }); ok {
			if err := fl.Flush(); err != nil {
				return fmt.Errorf("file: close: flush: %w", err)
			}
		}
		return nil
	}
	serr := t.f.Sync()
	cerr := t.f.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("file: close %s: %w", t.name, err)
	}
	return nil
}
