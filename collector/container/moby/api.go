package moby

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The Engine API versions this package speaks. The daemon's version (the
// Api-Version header of GET /_ping) is used, capped at MaxAPIVersion; a
// daemon older than MinAPIVersion (Moby 19.03) is refused with an error
// wrapping ErrAPIVersion. The fields read are the same in every version of
// the range.
const (
	MinAPIVersion = "1.40"
	MaxAPIVersion = "1.56"
)

// ErrAPIVersion is wrapped by the error of a daemon whose API version is
// outside [MinAPIVersion, MaxAPIVersion] from below, or not given.
var ErrAPIVersion = errors.New("moby: unsupported engine API version")

// ErrTooLarge is wrapped by the error of an answer longer than
// Options.MaxResponseBytes, or an event line longer than
// Options.MaxEventBytes: the rest is not read.
var ErrTooLarge = errors.New("moby: engine answer too large")

// APIError is the daemon's answer to a request that failed (a status
// other than 2xx): its status code and message.
type APIError struct {
	// Method and Path are the request's (the path without the version).
	Method, Path string
	// StatusCode is the HTTP status (404: no such container or exec).
	StatusCode int
	// Message is the daemon's message ({"message": …}), bounded, or the
	// status text.
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.StatusCode, e.Message)
}

// isStatus reports whether err is the daemon's answer with that status.
func isStatus(err error, code int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode == code
}

// idleConnTimeout is how long an idle connection to the engine is kept.
const idleConnTimeout = 5 * time.Second

// maxErrorBody bounds the body of an error answer that is read.
const maxErrorBody = 64 << 10

// apiClient is a minimal Engine API client on one unix socket: GET
// requests on a versioned path, answers bounded. Safe for concurrent use;
// the event stream holds one connection while it runs.
type apiClient struct {
	hc      *http.Client
	tr      *http.Transport
	version string // negotiated by ping
	maxBody int64
	maxLine int64
}

// newAPIClient returns a client of the socket at path; every request is
// bounded by its context, and the wait for response headers by
// headerTimeout.
func newAPIClient(path string, headerTimeout time.Duration, maxBody, maxLine int64) *apiClient {
	d := net.Dialer{Timeout: dialTimeout}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns: 4,
		// Requests come in bursts (a snapshot, the inspection of a
		// container that started): an idle connection is kept for the
		// rest of a burst, not longer. Each costs two goroutines and
		// their buffers while it waits.
		IdleConnTimeout:        idleConnTimeout,
		ResponseHeaderTimeout:  headerTimeout,
		MaxResponseHeaderBytes: 64 << 10,
		DisableCompression:     true,
	}
	hc := &http.Client{
		Transport: tr,
		// The engine does not redirect; a 3xx is an error answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &apiClient{hc: hc, tr: tr, maxBody: maxBody, maxLine: maxLine}
}

func (c *apiClient) close() { c.tr.CloseIdleConnections() }

// do sends GET path (versioned once negotiated) and returns the response
// when its status is 2xx, else an error wrapping *APIError. The caller
// closes the body.
func (c *apiClient) do(ctx context.Context, path string, q url.Values) (*http.Response, error) {
	p := path
	if c.version != "" {
		p = "/v" + c.version + path
	}
	u := url.URL{Scheme: "http", Host: "docker", Path: p, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	req.Header.Set("User-Agent", "edgesec")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	ae := &APIError{Method: http.MethodGet, Path: path, StatusCode: resp.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		ae.Message = m.Message
	} else if s := strings.TrimSpace(string(b)); s != "" && len(s) < 512 {
		ae.Message = s
	} else {
		ae.Message = http.StatusText(resp.StatusCode)
	}
	return nil, ae
}

// get sends GET path and decodes its answer, at most maxBody bytes, into v.
func (c *apiClient) get(ctx context.Context, path string, q url.Values, v any) error {
	resp, err := c.do(ctx, path, q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := readBounded(resp.Body, c.maxBody)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// getRaw is get without decoding: the answer's bytes.
func (c *apiClient) getRaw(ctx context.Context, path string) ([]byte, error) {
	resp, err := c.do(ctx, path, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := readBounded(resp.Body, c.maxBody)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	return b, nil
}

// readBounded reads r to its end, failing with ErrTooLarge past max bytes.
func readBounded(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return b, nil
}

// ping asks the daemon's API version (GET /_ping, unversioned) and
// negotiates: the daemon's, capped at MaxAPIVersion.
func (c *apiClient) ping(ctx context.Context) error {
	c.version = ""
	resp, err := c.do(ctx, "/_ping", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := readBounded(resp.Body, 1024); err != nil {
		return fmt.Errorf("GET /_ping: %w", err)
	}
	v, err := negotiate(resp.Header.Get("Api-Version"))
	if err != nil {
		return err
	}
	c.version = v
	return nil
}

// negotiate returns the API version to use with a daemon that speaks
// daemon.
func negotiate(daemon string) (string, error) {
	d, ok := parseVersion(daemon)
	if !ok {
		return "", fmt.Errorf("%w: the daemon gave %q", ErrAPIVersion, daemon)
	}
	lo, _ := parseVersion(MinAPIVersion)
	hi, _ := parseVersion(MaxAPIVersion)
	switch {
	case d.less(lo):
		return "", fmt.Errorf("%w: the daemon speaks %s, the minimum is %s (Moby 19.03)", ErrAPIVersion, daemon, MinAPIVersion)
	case hi.less(d):
		return MaxAPIVersion, nil
	}
	return d.String(), nil
}

type apiVersion struct{ major, minor int }

func parseVersion(s string) (apiVersion, bool) {
	maj, min, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(s), "v"), ".")
	if !ok {
		return apiVersion{}, false
	}
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if err1 != nil || err2 != nil || a < 0 || b < 0 || a > 99 || b > 999 {
		return apiVersion{}, false
	}
	return apiVersion{a, b}, true
}

func (v apiVersion) less(w apiVersion) bool {
	return v.major < w.major || v.major == w.major && v.minor < w.minor
}

func (v apiVersion) String() string { return strconv.Itoa(v.major) + "." + strconv.Itoa(v.minor) }

// eventReader splits the event stream (one JSON object per line) into
// lines of at most max bytes.
type eventReader struct {
	r   *bufio.Reader
	max int64
	buf []byte
}

func newEventReader(r io.Reader, max int64) *eventReader {
	return &eventReader{r: bufio.NewReaderSize(r, 4096), max: max}
}

// next returns the next non-empty line, without its end, valid until the
// next call. It fails with ErrTooLarge for a line longer than max, and
// with the reader's error (io.EOF when the stream ends) otherwise; a last
// line without its end is an event cut short and is not returned.
func (er *eventReader) next() ([]byte, error) {
	for {
		er.buf = er.buf[:0]
		for {
			chunk, err := er.r.ReadSlice('\n')
			if int64(len(er.buf)+len(bytes.TrimRight(chunk, "\r\n"))) > er.max {
				return nil, fmt.Errorf("%w: an event longer than %d bytes", ErrTooLarge, er.max)
			}
			er.buf = append(er.buf, chunk...)
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				return nil, err
			}
			break
		}
		if line := bytes.TrimSpace(er.buf); len(line) > 0 {
			return line, nil
		}
	}
}
