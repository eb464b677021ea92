package kernel

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// int80Program is a static x86-64 ELF executable that makes one ia32
// system call with int $0x80, times(NULL) (ia32 number 43, which is
// accept on x86-64), then exits with status 0: a 64-bit process can make
// 32-bit system calls, and the kernel then runs them by the ia32 table.
func int80Program() []byte {
	code := []byte{
		0xb8, 43, 0, 0, 0, // mov eax, 43 (ia32 times)
		0x31, 0xdb, // xor ebx, ebx (NULL)
		0xcd, 0x80, // int 0x80
		0xb8, 60, 0, 0, 0, // mov eax, 60 (x86-64 exit)
		0x31, 0xff, // xor edi, edi
		0x0f, 0x05, // syscall
	}
	const base, ehSize, phSize = 0x400000, 64, 56
	le := binary.LittleEndian
	b := make([]byte, ehSize+phSize)
	copy(b, "\x7fELF\x02\x01\x01") // 64-bit, little-endian, version 1
	le.PutUint16(b[16:], 2)        // ET_EXEC
	le.PutUint16(b[18:], 62)       // EM_X86_64
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[24:], base+ehSize+phSize) // entry: the code
	le.PutUint64(b[32:], ehSize)             // program headers
	le.PutUint16(b[52:], ehSize)
	le.PutUint16(b[54:], phSize)
	le.PutUint16(b[56:], 1)
	ph := b[ehSize:]
	le.PutUint32(ph[0:], 1) // PT_LOAD
	le.PutUint32(ph[4:], 5) // R+X
	le.PutUint64(ph[16:], base)
	le.PutUint64(ph[24:], base)
	le.PutUint64(ph[32:], uint64(len(b)+len(code)))
	le.PutUint64(ph[40:], uint64(len(b)+len(code)))
	le.PutUint64(ph[48:], 0x1000)
	return append(b, code...)
}

// A 32-bit system call made by a 64-bit process (int $0x80) is counted in
// CompatSkipped like one of a 32-bit process, not read as the 64-bit call
// of the same number: the kernel's own test (TS_COMPAT, in_ia32_syscall),
// not the code segment, tells them apart.
func TestInt80SystemCallIsCompat(t *testing.T) {
	c := newCollector(t, Options{Connections: true})
	if !c.Stats().Accept {
		t.Skip("no system call exit tracing on this kernel")
	}
	run(t, c)
	prog := filepath.Join(t.TempDir(), "int80")
	require.NoError(t, os.WriteFile(prog, int80Program(), 0o755))
	before := c.Stats().CompatSkipped
	out, err := exec.Command(prog).CombinedOutput()
	if err != nil {
		// A kernel without ia32 emulation (or with it disabled) kills
		// the program at int $0x80.
		t.Skipf("int $0x80 not available on this kernel: %v %s", err, out)
	}
	require.True(t, waitUntil(5*time.Second, func() bool { return c.Stats().CompatSkipped > before }),
		"the ia32 times (x86-64 accept) of a 64-bit process was not counted as a 32-bit call")
}
