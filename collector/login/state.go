package login

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/edgesec/edgesec/internal/atomicfile"
)

// StateFile is the name of the file, in Options.StateDir, where the
// collector keeps its read positions.
const StateFile = "login-positions.json"

// maxStateBytes bounds the state file the collector reads back.
const maxStateBytes = 4 << 20

// maxSessions bounds the open sessions remembered to name the user of a
// logout record.
const maxSessions = 4096

// position is how far a file has been read: which file (device and
// inode, so that rotation and replacement are noticed) and the offset of
// the first byte not yet read.
type position struct {
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Offset int64  `json:"offset"`
	Tail   []byte `json:"tail,omitempty"` // the bytes just before Offset
}

// session is an open login, by terminal line, used to name the user of
// the DEAD_PROCESS record that ends it (which carries no user name).
type session struct {
	User string `json:"user"`
	Host string `json:"host,omitempty"`
	Addr string `json:"addr,omitempty"`
}

// state is what the collector persists.
type state struct {
	Version  int                 `json:"version"`
	Files    map[string]position `json:"files"`
	Sessions map[string]session  `json:"sessions,omitempty"`
}

func newState() *state {
	return &state{Version: 1, Files: map[string]position{}, Sessions: map[string]session{}}
}

// loadState reads the state file of dir. A missing file is a fresh state
// and no error; a corrupt one is a fresh state and an error (the
// collector then starts from the end of the files, as on a first run).
func loadState(dir string) (*state, error) {
	st := newState()
	if dir == "" {
		return st, nil
	}
	name := filepath.Join(dir, StateFile)
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("login: read state: %w", err)
	}
	defer f.Close()
	var got state
	dec := json.NewDecoder(&limitedReader{f, maxStateBytes})
	if err := dec.Decode(&got); err != nil {
		return st, fmt.Errorf("login: state file %s is corrupt, starting from the end of the logs: %w", name, err)
	}
	if got.Version != 1 {
		return st, fmt.Errorf("login: state file %s has version %d, want 1; starting from the end of the logs", name, got.Version)
	}
	for k, v := range got.Files {
		if v.Offset >= 0 {
			st.Files[k] = v
		}
	}
	for k, v := range got.Sessions {
		if len(st.Sessions) >= maxSessions {
			break
		}
		st.Sessions[k] = v
	}
	return st, nil
}

// save writes the state atomically: a temporary file in dir, synced,
// renamed over the state file, and the directory synced.
func (st *state) save(dir string) error {
	if dir == "" {
		return nil
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("login: encode state: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("login: state dir: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, StateFile), b, 0o600); err != nil {
		return fmt.Errorf("login: write state: %w", err)
	}
	return nil
}

// limitedReader is io.LimitReader that fails instead of truncating.
type limitedReader struct {
	r interface{ Read([]byte) (int, error) }
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("state file too large")
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
