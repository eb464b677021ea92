package moby

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// errTooLarge is returned by a response body that went past its bound.
var errTooLarge = errors.New("moby: engine answer too large")

// limitTransport bounds what the engine can make the client read: an
// ordinary answer to max bytes, a line of the event stream to maxLine.
type limitTransport struct {
	base    http.RoundTripper
	max     int64
	maxLine int64
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	if strings.HasSuffix(req.URL.Path, "/events") {
		resp.Body = &lineLimited{rc: resp.Body, max: t.maxLine}
	} else {
		resp.Body = &limited{rc: resp.Body, left: t.max}
	}
	return resp, nil
}

// limited fails the read that goes past left bytes.
type limited struct {
	rc   io.ReadCloser
	left int64
}

func (l *limited) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One more byte tells a body of exactly the bound from a longer one.
		var one [1]byte
		if n, _ := l.rc.Read(one[:]); n > 0 {
			return 0, errTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limited) Close() error { return l.rc.Close() }

// lineLimited fails when a line (an event) goes past max bytes.
type lineLimited struct {
	rc   io.ReadCloser
	max  int64
	line int64
}

func (l *lineLimited) Read(p []byte) (int, error) {
	n, err := l.rc.Read(p)
	for _, c := range p[:n] {
		if c == '\n' {
			l.line = 0
			continue
		}
		if l.line++; l.line > l.max {
			return 0, fmt.Errorf("%w: an event longer than %d bytes", errTooLarge, l.max)
		}
	}
	return n, err
}

func (l *lineLimited) Close() error { return l.rc.Close() }
