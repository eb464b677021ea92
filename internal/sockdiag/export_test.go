package sockdiag

import (
	"encoding/binary"
	"os"
	"testing"
)

// CaptureDump writes the raw datagrams of a dump of t in all states, each
// prefixed by its length, to name; the request uses sequence number 1.
func CaptureDump(tb testing.TB, c *Conn, t Table, name string) {
	tb.Helper()
	c.mu.Lock()
	c.seq = 0
	c.mu.Unlock()
	var out []byte
	err := c.dumpRaw(t, AllStates, func(b []byte, seq uint32) (bool, error) {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
		return ParseMessages(b, seq, func(*Socket) {})
	})
	if err != nil {
		tb.Fatalf("capture %s: %v", t, err)
	}
	if err := os.WriteFile(name, out, 0o644); err != nil {
		tb.Fatal(err)
	}
}
