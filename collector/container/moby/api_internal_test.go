package moby

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadBounded(t *testing.T) {
	for _, c := range []struct {
		n   int
		err error
	}{{0, nil}, {99, nil}, {100, nil}, {101, ErrTooLarge}, {1 << 20, ErrTooLarge}} {
		b, err := readBounded(strings.NewReader(strings.Repeat("x", c.n)), 100)
		if !errors.Is(err, c.err) || err == nil && len(b) != c.n {
			t.Errorf("%d bytes: %d, %v; want %v", c.n, len(b), err, c.err)
		}
	}
}

func TestEventReader(t *testing.T) {
	long := strings.Repeat("y", 5000) // longer than the bufio buffer
	in := "a\n\n  \r\nbb\r\n" + long + "\n" + "cut"
	r := newEventReader(iotest.OneByteReader(strings.NewReader(in)), 5000)
	for _, want := range []string{"a", "bb", long} {
		l, err := r.next()
		if err != nil || string(l) != want {
			t.Fatalf("next = %.20q, %v; want %.20q", l, err, want)
		}
	}
	if l, err := r.next(); err != io.EOF {
		t.Fatalf("a last line without its end: %q, %v; want io.EOF", l, err)
	}
	r = newEventReader(strings.NewReader("ok\n"+long+"z\nnext\n"), 5000)
	if l, err := r.next(); err != nil || string(l) != "ok" {
		t.Fatalf("next = %q, %v", l, err)
	}
	if _, err := r.next(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a line of 5001 bytes: %v, want ErrTooLarge", err)
	}
	// A stream without a newline stops at the bound, not at its end.
	src := &countingReader{r: bytes.NewReader(bytes.Repeat([]byte("z"), 1<<20))}
	if _, err := newEventReader(src, 1000).next(); !errors.Is(err, ErrTooLarge) || src.n > 8192 {
		t.Fatalf("%v after reading %d bytes", err, src.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestNegotiate(t *testing.T) {
	for in, want := range map[string]string{"1.40": "1.40", "1.41": "1.41", " v1.45 ": "1.45", "1.56": "1.56", "1.57": MaxAPIVersion, "3.1": MaxAPIVersion} {
		if v, err := negotiate(in); err != nil || v != want {
			t.Errorf("negotiate(%q) = %q, %v; want %s", in, v, err, want)
		}
	}
	for _, in := range []string{"", "1", "1.39", "0.99", "1.x", "-1.50", "1.-2", "1.2.3"} {
		if v, err := negotiate(in); !errors.Is(err, ErrAPIVersion) {
			t.Errorf("negotiate(%q) = %q, %v; want ErrAPIVersion", in, v, err)
		}
	}
}

// FuzzEventReader: whatever the daemon sends, no line longer than the
// bound comes out, and every line comes out trimmed and non-empty.
func FuzzEventReader(f *testing.F) {
	f.Add([]byte("{\"Type\":\"container\"}\n\n{}\r\n"), uint16(16))
	f.Add([]byte(strings.Repeat("a", 300)+"\nb\n"), uint16(100))
	f.Fuzz(func(t *testing.T, in []byte, max uint16) {
		r := newEventReader(bytes.NewReader(in), int64(max))
		for i := 0; ; i++ {
			l, err := r.next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrTooLarge) {
					t.Fatal(err)
				}
				return
			}
			if len(l) == 0 || int64(len(l)) > int64(max) || len(bytes.TrimSpace(l)) != len(l) {
				t.Fatalf("line %q (bound %d)", l, max)
			}
			if i > len(in) {
				t.Fatal("more lines than bytes")
			}
		}
	})
}
