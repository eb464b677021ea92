package iothub

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultWorkloadAPIVersion is the workload API version used when
// IOTEDGE_APIVERSION is not set.
const DefaultWorkloadAPIVersion = "2018-06-28"

// maxWorkloadResponse bounds what is read from the workload API.
const maxWorkloadResponse = 1 << 20

// Workload is a client of the IoT Edge workload API (aziot-edged), which
// signs the module's SAS tokens with the module's key and serves the trust
// bundle that verifies edgeHub's certificate. It implements Signer and is
// safe for concurrent use.
type Workload struct {
	base       string // URL prefix: http://workload for unix sockets
	moduleID   string
	genID      string
	apiVersion string
	http       *http.Client
}

// NewWorkload returns a client of the workload API at uri
// (unix:///var/run/iotedge/workload.sock, or http://host:port) for a
// module and its generation id. apiVersion defaults to
// DefaultWorkloadAPIVersion.
func NewWorkload(uri, moduleID, generationID, apiVersion string) (*Workload, error) {
	if apiVersion == "" {
		apiVersion = DefaultWorkloadAPIVersion
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("iothub: workload URI %q: %w", uri, err)
	}
	w := &Workload{moduleID: moduleID, genID: generationID, apiVersion: apiVersion}
	switch u.Scheme {
	case "unix":
		path := u.Path
		if path == "" {
			path = u.Opaque
		}
		if path == "" {
			return nil, fmt.Errorf("iothub: workload URI %q has no socket path", uri)
		}
		tr := &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			},
			MaxIdleConns:    1,
			IdleConnTimeout: 30 * time.Second,
		}
		w.base = "http://workload"
		w.http = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	case "http", "https":
		w.base = strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/")
		w.http = &http.Client{Timeout: 30 * time.Second}
	default:
		return nil, fmt.Errorf("iothub: workload URI %q: unsupported scheme (unix, http, https)", uri)
	}
	return w, nil
}

// Sign implements Signer with POST /modules/{m}/genid/{g}/sign: the
// module's primary key signs stringToSign with HMAC-SHA256.
func (w *Workload) Sign(ctx context.Context, stringToSign string) (string, error) {
	body, err := json.Marshal(map[string]string{
		"keyId": "primary",
		"algo":  "HMACSHA256",
		"data":  base64.StdEncoding.EncodeToString([]byte(stringToSign)),
	})
	if err != nil {
		return "", fmt.Errorf("iothub: workload sign request: %w", err)
	}
	u := fmt.Sprintf("%s/modules/%s/genid/%s/sign?api-version=%s", w.base,
		url.PathEscape(w.moduleID), url.PathEscape(w.genID), url.QueryEscape(w.apiVersion))
	var resp struct {
		Digest string `json:"digest"`
	}
	if err := w.do(ctx, http.MethodPost, u, body, &resp); err != nil {
		return "", fmt.Errorf("iothub: workload sign: %w", err)
	}
	if _, err := base64.StdEncoding.DecodeString(resp.Digest); err != nil || resp.Digest == "" {
		return "", errors.New("iothub: workload sign: response has no base64 digest")
	}
	return resp.Digest, nil
}

// TrustBundle returns the certificates of GET /trust-bundle, which verify
// edgeHub's server certificate.
func (w *Workload) TrustBundle(ctx context.Context) (*x509.CertPool, error) {
	u := fmt.Sprintf("%s/trust-bundle?api-version=%s", w.base, url.QueryEscape(w.apiVersion))
	var resp struct {
		Certificate string `json:"certificate"`
	}
	if err := w.do(ctx, http.MethodGet, u, nil, &resp); err != nil {
		return nil, fmt.Errorf("iothub: workload trust bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(resp.Certificate)) {
		return nil, errors.New("iothub: workload trust bundle has no PEM certificate")
	}
	return pool, nil
}

func (w *Workload) do(ctx context.Context, method, u string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxWorkloadResponse))
	if err != nil {
		return fmt.Errorf("reading response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return fmt.Errorf("%s %s: HTTP %d: %s", method, req.URL.Path, resp.StatusCode, msg)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding response: %w", err)
	}
	return nil
}
