package file_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/file"
)

func message(t testing.TB, n int) transport.Message {
	t.Helper()
	env := event.Envelope{AgentVersion: "1.0.0", AgentID: "9c647395-b913-4997-a732-a7fe7303b649", Events: []event.Event{
		event.Must(event.ListeningPorts, time.Unix(1700000000, 0), &event.ListeningPortsPayload{
			Protocol: "TCP", LocalPort: fmt.Sprint(n), ExtraDetails: event.ExtraDetails{"Note": "line\nbreak"}}),
	}}
	return transport.NewSecurityMessage(env.AppendJSON(nil), event.High, time.Now())
}

func lines(t *testing.T, b []byte) []string {
	t.Helper()
	s := string(b)
	if s != "" && !strings.HasSuffix(s, "\n") {
		t.Errorf("output does not end with a newline: %q", s)
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func TestNewWritesOneLinePerMessage(t *testing.T) {
	var buf bytes.Buffer
	tr := file.New(&buf)
	var want []string
	for i := 0; i < 3; i++ {
		m := message(t, i)
		if err := tr.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		want = append(want, string(m.Body))
	}
	got := lines(t, buf.Bytes())
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, l := range got {
		if !json.Valid([]byte(l)) {
			t.Errorf("invalid line %q", l)
		}
	}
}

func TestSendCompactsIndentedJSON(t *testing.T) {
	var buf bytes.Buffer
	tr := file.New(&buf)
	body := []byte("{\n  \"AgentVersion\": \"1.0\",\r\n  \"Events\": [ 1, 2 ]\n}")
	if err := tr.Send(context.Background(), transport.Message{ID: "x", Body: body}); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != `{"AgentVersion":"1.0","Events":[1,2]}`+"\n" {
		t.Errorf("got %q", got)
	}
}

func TestSendRejectsInvalidJSON(t *testing.T) {
	var buf bytes.Buffer
	tr := file.New(&buf)
	for _, body := range []string{"", "{", "not json", `{"a":1}{"b":2}`, "{\"a\":\"raw\nnewline\"}", "\xff"} {
		err := tr.Send(context.Background(), transport.Message{ID: "m", Body: []byte(body)})
		if !transport.IsPermanent(err) {
			t.Errorf("body %q: %v, want a permanent error", body, err)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("rejected bodies were written: %q", buf.String())
	}
}

func TestSendHonoursContext(t *testing.T) {
	var buf bytes.Buffer
	tr := file.New(&buf)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tr.Send(ctx, message(t, 1)); !errors.Is(err, context.Canceled) || transport.IsPermanent(err) {
		t.Errorf("Send with a cancelled context: %v", err)
	}
	if buf.Len() != 0 {
		t.Error("written despite cancelled context")
	}
}

type closeRecorder struct {
	bytes.Buffer
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestCloseSemantics(t *testing.T) {
	w := &closeRecorder{}
	tr := file.New(w)
	ctx := context.Background()
	if err := tr.Send(ctx, message(t, 1)); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if w.closed {
		t.Error("Close closed the writer given to New")
	}
	err := tr.Send(ctx, message(t, 2))
	if !errors.Is(err, transport.ErrClosed) || transport.IsPermanent(err) {
		t.Errorf("Send after Close: %v", err)
	}
}

// blockingWriter blocks every Write until release is closed.
type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
	bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.entered <- struct{}{}
	<-w.release
	return w.Buffer.Write(p)
}

func TestCloseWaitsForSendOrContext(t *testing.T) {
	w := &blockingWriter{entered: make(chan struct{}, 1), release: make(chan struct{})}
	tr := file.New(w)
	sent := make(chan error, 1)
	go func() { sent <- tr.Send(context.Background(), message(t, 1)) }()
	<-w.entered
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := tr.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close while a Send is writing: %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if err := tr.Send(ctx2, message(t, 2)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send while another Send is writing: %v", err)
	}
	close(w.release)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(lines(t, w.Bytes())); n != 1 {
		t.Errorf("%d lines", n)
	}
}

func TestConcurrentSends(t *testing.T) {
	var buf bytes.Buffer
	tr := file.New(&buf)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := tr.Send(context.Background(), message(t, i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	ls := lines(t, buf.Bytes())
	if len(ls) != 400 {
		t.Fatalf("%d lines, want 400", len(ls))
	}
	for _, l := range ls {
		if !json.Valid([]byte(l)) {
			t.Fatalf("interleaved line %q", l)
		}
	}
}

// partialWriter writes half of the first line and fails, then works.
type partialWriter struct {
	bytes.Buffer
	failed bool
}

func (w *partialWriter) Write(p []byte) (int, error) {
	if !w.failed {
		w.failed = true
		n, _ := w.Buffer.Write(p[:len(p)/2])
		return n, errors.New("disk on fire")
	}
	return w.Buffer.Write(p)
}

func TestPartialWriteDoesNotCorruptNextLine(t *testing.T) {
	w := &partialWriter{}
	tr := file.New(w)
	ctx := context.Background()
	err := tr.Send(ctx, message(t, 1))
	if err == nil || transport.IsPermanent(err) {
		t.Fatalf("failed write: %v, want a retryable error", err)
	}
	m := message(t, 2)
	if err := tr.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	ls := lines(t, w.Bytes())
	if len(ls) != 2 || ls[1] != string(m.Body) {
		t.Errorf("lines after a partial write: %q", ls)
	}
}

func TestBufferedWriterIsFlushed(t *testing.T) {
	var buf bytes.Buffer
	bw := bufio.NewWriterSize(&buf, 1<<16)
	tr := file.New(bw)
	if err := tr.Send(context.Background(), message(t, 1)); err != nil {
		t.Fatal(err)
	}
	if buf.Len() == 0 {
		t.Error("Send returned before the buffered writer was flushed")
	}
}

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages.jsonl")
	tr, err := file.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m1, m2, m3 := message(t, 1), message(t, 2), message(t, 3)
	for _, m := range []transport.Message{m1, m2} {
		if err := tr.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("permissions %v, want 0600", perm)
	}
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tr.Send(ctx, m3); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	// Reopening appends.
	tr, err = file.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Send(ctx, m3); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := string(m1.Body) + "\n" + string(m2.Body) + "\n" + string(m3.Body) + "\n"
	if string(b) != want {
		t.Errorf("file holds\n%s\nwant\n%s", b, want)
	}
}

func TestOpenRestrictsExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages.jsonl")
	if err := os.WriteFile(path, []byte(`{"old":true}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := file.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(context.Background())
	fi, _ := os.Stat(path)
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("permissions %v, want 0600", perm)
	}
}

func TestOpenRecoversPartialLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages.jsonl")
	if err := os.WriteFile(path, []byte(`{"complete":1}`+"\n"+`{"torn":`), 0o600); err != nil {
		t.Fatal(err)
	}
	tr, err := file.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	m := message(t, 1)
	if err := tr.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	ls := lines(t, b)
	if len(ls) != 3 || ls[2] != string(m.Body) {
		t.Errorf("lines %q", ls)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	var nullMode os.FileMode
	if fi, err := os.Stat(os.DevNull); err == nil {
		nullMode = fi.Mode()
	}
	for _, p := range []string{dir, filepath.Join(dir, "missing", "x.jsonl"), os.DevNull} {
		if tr, err := file.Open(p); err == nil {
			_ = tr.Close(context.Background())
			t.Errorf("Open(%q) succeeded", p)
		}
	}
	// A device is refused before its permissions are touched.
	if fi, err := os.Stat(os.DevNull); err == nil && fi.Mode() != nullMode {
		t.Errorf("Open changed the mode of %s from %v to %v", os.DevNull, nullMode, fi.Mode())
	}
}

func TestImplementsTransport(t *testing.T) {
	var _ transport.Transport = file.New(io.Discard)
}
