package event_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgesec/edgesec/event"
)

func TestLoadOrCreateAgentID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "nested")
	id, err := event.LoadOrCreateAgentID(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !event.ValidID(id) {
		t.Fatalf("id %q is not a GUID", id)
	}
	for i := 0; i < 3; i++ {
		again, err := event.LoadOrCreateAgentID(dir)
		if err != nil || again != id {
			t.Fatalf("call %d: %q, %v; want %q", i+2, again, err, id)
		}
	}
	path := filepath.Join(dir, event.AgentIDFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		t.Errorf("agent id file is writable by others: %v", fi.Mode())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("state dir holds %d entries, want just %s (no temporary files left)", len(ents), event.AgentIDFile)
	}
}

func TestLoadOrCreateAgentIDReplacesGarbage(t *testing.T) {
	for _, garbage := range []string{"", "garbage\n", "9c647395-b913-4997-a732-a7fe7303b64", "\x00\xff", strings.Repeat("x", 36)} {
		dir := t.TempDir()
		path := filepath.Join(dir, event.AgentIDFile)
		if err := os.WriteFile(path, []byte(garbage), 0o600); err != nil {
			t.Fatal(err)
		}
		id, err := event.LoadOrCreateAgentID(dir)
		if err == nil {
			t.Errorf("%q: no error reported for a replaced id", garbage)
		}
		if !event.ValidID(id) {
			t.Fatalf("%q: new id %q is not a GUID", garbage, id)
		}
		again, err := event.LoadOrCreateAgentID(dir)
		if err != nil || again != id {
			t.Errorf("%q: after replacement got %q, %v; want %q", garbage, again, err, id)
		}
	}
}

func TestLoadOrCreateAgentIDNormalises(t *testing.T) {
	dir := t.TempDir()
	const upper = "9C647395-B913-4997-A732-A7FE7303B649"
	if err := os.WriteFile(filepath.Join(dir, event.AgentIDFile), []byte("  "+upper+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := event.LoadOrCreateAgentID(dir)
	if err != nil || id != strings.ToLower(upper) {
		t.Errorf("got %q, %v", id, err)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := event.NewID()
		if !event.ValidID(id) || id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("NewID %q is not a version 4 GUID", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "9c647395b91349 97a732a7fe7303b649", "9c647395-b913-4997-a732-a7fe7303b64g", "9c647395-b913-4997-a732_a7fe7303b649"} {
		if event.ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}
