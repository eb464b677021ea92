package event

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgesec/edgesec/internal/atomicfile"
)

// AgentIDFile is the name of the file, in the state directory, that holds
// the agent's GUID.
const AgentIDFile = "agent-id"

// LoadOrCreateAgentID returns the agent GUID stored in dir/agent-id,
// creating the directory and a fresh GUID on first use. The file is written
// atomically (temporary file, fsync, rename), so the id is stable across
// restarts and crashes. A file holding anything but a GUID is replaced and
// reported in the returned error together with the new id, so the caller
// can log it and go on.
func LoadOrCreateAgentID(dir string) (string, error) {
	path := filepath.Join(dir, AgentIDFile)
	b, err := os.ReadFile(path)
	var bad error
	switch {
	case err == nil:
		id := strings.TrimSpace(string(b))
		if ValidID(id) {
			return strings.ToLower(id), nil
		}
		bad = fmt.Errorf("event: %s does not hold a GUID; replaced it", path)
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("event: read agent id: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("event: create state dir: %w", err)
	}
	id := NewID()
	if err := atomicfile.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("event: persist agent id: %w", err)
	}
	return id, bad
}
