package mqtttest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// Workload is a fake IoT Edge workload API served on a unix socket: it
// signs with a known module key (POST /modules/{m}/genid/{g}/sign) and
// serves a trust bundle (GET /trust-bundle), checking the api-version,
// module, generation id, keyId and algorithm as aziot-edged does.
type Workload struct {
	// Socket is the unix socket path; URI is unix://Socket.
	Socket, URI string
	// Signs counts sign requests answered.
	Signs atomic.Int64

	module, genID string
	mu            sync.Mutex
	key           []byte
	bundle        []byte
}

// StartWorkload serves the workload API for module/genID with key and
// trust bundle bundlePEM; it stops at the end of the test.
func StartWorkload(t testing.TB, module, genID string, key, bundlePEM []byte) *Workload {
	t.Helper()
	dir, err := os.MkdirTemp("", "edgesec-workload-") // short path: unix socket names are limited
	if err != nil {
		t.Fatalf("mqtttest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	w := &Workload{Socket: filepath.Join(dir, "workload.sock"), module: module, genID: genID, key: key, bundle: bundlePEM}
	w.URI = "unix://" + w.Socket
	l, err := net.Listen("unix", w.Socket)
	if err != nil {
		t.Fatalf("mqtttest: workload socket: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /modules/{module}/genid/{genid}/sign", w.sign)
	mux.HandleFunc("GET /trust-bundle", w.trustBundle)
	srv := &http.Server{Handler: mux}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return w
}

// SetKey changes the module key (a key rotation).
func (w *Workload) SetKey(key []byte) {
	w.mu.Lock()
	w.key = key
	w.mu.Unlock()
}

func apiVersionOK(r *http.Request) bool {
	v := r.URL.Query().Get("api-version")
	return v != "" && v >= "2018-06-28"
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

func (w *Workload) sign(rw http.ResponseWriter, r *http.Request) {
	if !apiVersionOK(r) {
		writeJSON(rw, 400, map[string]string{"message": "missing or old api-version"})
		return
	}
	if r.PathValue("module") != w.module || r.PathValue("genid") != w.genID {
		writeJSON(rw, 404, map[string]string{"message": "module not found"})
		return
	}
	var req struct {
		KeyID string `json:"keyId"`
		Algo  string `json:"algo"`
		Data  string `json:"data"`
	}
	err := json.NewDecoder(http.MaxBytesReader(rw, r.Body, 64<<10)).Decode(&req)
	var data []byte
	if err == nil {
		data, err = base64.StdEncoding.DecodeString(req.Data)
	}
	if err == nil && (req.KeyID != "primary" || req.Algo != "HMACSHA256") {
		err = errors.New("keyId must be primary and algo HMACSHA256")
	}
	if err != nil {
		writeJSON(rw, 400, map[string]string{"message": err.Error()})
		return
	}
	w.mu.Lock()
	mac := hmac.New(sha256.New, w.key)
	w.mu.Unlock()
	mac.Write(data)
	w.Signs.Add(1)
	writeJSON(rw, 200, map[string]string{"digest": base64.StdEncoding.EncodeToString(mac.Sum(nil))})
}

func (w *Workload) trustBundle(rw http.ResponseWriter, r *http.Request) {
	if !apiVersionOK(r) {
		writeJSON(rw, 400, map[string]string{"message": "missing or old api-version"})
		return
	}
	writeJSON(rw, 200, map[string]string{"certificate": string(w.bundle)})
}

// Env returns the IoT Edge module environment for hub and this workload
// API, as IoT Edge sets it in a module's container.
func (w *Workload) Env(h *Hub) map[string]string {
	o := h.Options()
	return map[string]string{
		"IOTEDGE_WORKLOADURI":        w.URI,
		"IOTEDGE_DEVICEID":           o.DeviceID,
		"IOTEDGE_MODULEID":           o.ModuleID,
		"IOTEDGE_MODULEGENERATIONID": w.genID,
		"IOTEDGE_IOTHUBHOSTNAME":     o.HubHostName,
		"IOTEDGE_GATEWAYHOSTNAME":    h.GatewayHostName(),
		"IOTEDGE_APIVERSION":         "2019-01-30",
		"IOTEDGE_AUTHSCHEME":         "sasToken",
	}
}
