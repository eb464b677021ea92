package process

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// procMsg builds one netlink datagram carrying a proc_event, laid out as
// the kernel does (struct nlmsghdr, struct cn_msg, struct proc_event).
func procMsg(what, cpu, seq uint32, ktime uint64, words ...uint32) []byte {
	data := make([]byte, procEventHeaderLen+4*len(words))
	binary.NativeEndian.PutUint32(data[0:], what)
	binary.NativeEndian.PutUint32(data[4:], cpu)
	binary.NativeEndian.PutUint64(data[8:], ktime)
	for i, w := range words {
		binary.NativeEndian.PutUint32(data[procEventHeaderLen+4*i:], w)
	}
	cn := make([]byte, cnMsgLen+len(data))
	binary.NativeEndian.PutUint32(cn[0:], cnIdxProc)
	binary.NativeEndian.PutUint32(cn[4:], cnValProc)
	binary.NativeEndian.PutUint32(cn[8:], seq)
	binary.NativeEndian.PutUint16(cn[16:], uint16(len(data)))
	copy(cn[cnMsgLen:], data)
	msg := make([]byte, nlmsgHdrLen+len(cn))
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], unix.NLMSG_DONE)
	copy(msg[nlmsgHdrLen:], cn)
	return msg
}

func TestParseMessages(t *testing.T) {
	var b []byte
	b = append(b, procMsg(procEventFork, 1, 10, 111, 100, 100, 200, 200)...)
	b = append(b, procMsg(procEventExec, 1, 11, 222, 200, 200)...)
	// comm "hello": little- or big-endian words, written natively below.
	var commBytes [16]byte
	copy(commBytes[:], "hello")
	w := func(i int) uint32 { return binary.NativeEndian.Uint32(commBytes[4*i:]) }
	b = append(b, procMsg(procEventComm, 0, 3, 333, 200, 200, w(0), w(1), w(2), w(3))...)
	b = append(b, procMsg(procEventExit, 0, 4, 444, 200, 200, 9, 17, 100, 100)...)
	b = append(b, procMsg(procEventNone, 0, 5, 0, 1)...)
	evs, err := parseMessages(b, nil)
	require.NoError(t, err)
	require.Len(t, evs, 5)
	assert.Equal(t, rawEvent{What: procEventFork, CPU: 1, Seq: 10, KTime: 111, ParentPID: 100, ParentTGID: 100, PID: 200, TGID: 200}, evs[0])
	assert.Equal(t, rawEvent{What: procEventExec, CPU: 1, Seq: 11, KTime: 222, PID: 200, TGID: 200}, evs[1])
	assert.Equal(t, "hello", commString(evs[2].Comm[:]))
	assert.Equal(t, rawEvent{What: procEventExit, Seq: 4, KTime: 444, PID: 200, TGID: 200, ExitCode: 9, ExitSignal: 17, ParentPID: 100, ParentTGID: 100}, evs[3])
	assert.Equal(t, uint32(1), evs[4].AckErr)

	// Pre-4.18 exit events have no parent fields.
	evs, err = parseMessages(procMsg(procEventExit, 0, 1, 1, 7, 7, 3<<8, 17), nil)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, uint32(3<<8), evs[0].ExitCode)

	// Truncated messages are errors, not crashes.
	full := procMsg(procEventFork, 0, 1, 1, 1, 1, 2, 2)
	for n := 1; n < len(full); n++ {
		cut := append([]byte(nil), full[:n]...)
		if n >= 4 {
			binary.NativeEndian.PutUint32(cut[0:], uint32(n))
		}
		evs, err := parseMessages(cut, nil)
		if n >= nlmsgHdrLen {
			assert.Error(t, err, "n=%d", n)
		}
		assert.Empty(t, evs)
	}
	// Other connector users are skipped.
	other := procMsg(procEventExec, 0, 1, 1, 5, 5)
	binary.NativeEndian.PutUint32(other[nlmsgHdrLen:], 7)
	evs, err = parseMessages(other, nil)
	require.NoError(t, err)
	assert.Empty(t, evs)
}

func FuzzParseMessages(f *testing.F) {
	f.Add(procMsg(procEventExec, 1, 11, 222, 200, 200))
	f.Add(append(procMsg(procEventFork, 1, 10, 111, 100, 100, 200, 200), procMsg(procEventExit, 0, 4, 444, 200, 200, 9, 17, 100, 100)...))
	f.Add(procMsg(procEventComm, 0, 3, 333, 1, 1, 0x41414141, 0x41414141, 0x41414141, 0x41414141))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, _ := parseMessages(b, nil)
		if len(evs) > len(b)/(nlmsgHdrLen+cnMsgLen+procEventHeaderLen)+1 {
			t.Fatalf("%d events from %d bytes", len(evs), len(b))
		}
	})
}

func TestDecodeWaitStatus(t *testing.T) {
	for _, c := range []struct {
		ws     uint32
		status int
		sig    unix.Signal
		core   bool
	}{
		{0, 0, 0, false},
		{3 << 8, 3, 0, false},
		{255 << 8, 255, 0, false},
		{9, 137, unix.SIGKILL, false},
		{15, 143, unix.SIGTERM, false},
		{11 | 0x80, 139, unix.SIGSEGV, true},
	} {
		status, sig, core := decodeWaitStatus(c.ws)
		assert.Equal(t, c.status, status, "%#x", c.ws)
		assert.Equal(t, c.sig, sig)
		assert.Equal(t, c.core, core)
	}
	assert.Equal(t, "SIGKILL", signalName(unix.SIGKILL))
	assert.Equal(t, "50", signalName(50))
}

func TestLRUBounded(t *testing.T) {
	l := newLRU(3)
	for pid := 1; pid <= 5; pid++ {
		l.put(&procInfo{pid: pid})
	}
	assert.Equal(t, 3, l.len())
	assert.Nil(t, l.get(1))
	assert.Nil(t, l.get(2))
	require.NotNil(t, l.get(3)) // 3 is now the most recent
	l.put(&procInfo{pid: 6})    // evicts 4
	assert.Nil(t, l.get(4))
	assert.NotNil(t, l.get(3))
	assert.Equal(t, uint64(3), l.evicted)
	assert.NotNil(t, l.remove(3))
	assert.Nil(t, l.remove(3))
	assert.Equal(t, 2, l.len())
	l.put(&procInfo{pid: 5, exe: "/x"}) // replace
	assert.Equal(t, "/x", l.get(5).exe)
	assert.Equal(t, 2, l.len())
}

// BenchmarkEventPath runs the collector's per-event path (decode, process
// table, /proc enrichment, event construction, queueing) on recorded
// proc connector datagrams: the fork, exec and exit of a live process, so
// that /proc reads succeed as they do for a process that is still running.
// One op is one process (three datagrams).
func BenchmarkEventPath(b *testing.B) {
	cmd := exec.Command("/bin/sleep", "30")
	require.NoError(b, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid, ppid := uint32(cmd.Process.Pid), uint32(os.Getpid())
	fork := procMsg(procEventFork, 0, 1, 0, ppid, ppid, pid, pid)
	execd := procMsg(procEventExec, 0, 2, 0, pid, pid)
	exit := procMsg(procEventExit, 0, 3, 0, pid, pid, 0, 17, ppid, ppid)
	for _, bc := range []struct {
		name  string
		dgram [][]byte
	}{
		{"process", [][]byte{fork, execd, exit}},
		{"decode-only", nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := New(Options{})
			out := newOutbox(DefaultQueueSize)
			e := c.newEnricher(context.Background(), out)
			defer e.close()
			h := &dgramHandler{c: c, e: e, evs: make([]rawEvent, 0, 64)}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if bc.dgram == nil {
					for _, d := range [][]byte{fork, execd, exit} {
						h.evs, _ = parseMessages(d, h.evs[:0])
					}
					continue
				}
				for _, d := range bc.dgram {
					h.handle(d)
				}
				e.flush()
				n++
				if n%64 == 0 {
					_ = out.take()
				}
			}
			if bc.dgram != nil {
				require.Zero(b, c.dropped.Load())
				require.NotZero(b, c.created.Load())
				require.Zero(b, c.partial.Load(), "the process was read in full")
			}
		})
	}
}

// The proc connector numbers events per CPU; a jump in one CPU's sequence
// is events the kernel dropped on a full socket buffer (Stats.LostEvents).
func TestSeqTrackerCountsGapsPerCPU(t *testing.T) {
	var s seqTracker
	assert.Zero(t, s.next(0, 100), "the first event of a CPU is no gap")
	assert.Zero(t, s.next(0, 101))
	assert.Zero(t, s.next(3, 7), "CPUs are counted apart")
	assert.Equal(t, uint32(4), s.next(0, 106), "102..105 lost")
	assert.Zero(t, s.next(3, 8))
	assert.Equal(t, uint32(1), s.next(3, 10))
	assert.Zero(t, s.next(0, 106), "a repeated number is no loss")
	assert.Zero(t, s.next(0, 50), "an older number (reordering) is no loss")
	assert.Equal(t, uint32(9), s.next(0, 60), "counted from the last seen")
	assert.Zero(t, s.next(1, ^uint32(0)))
	assert.Zero(t, s.next(1, 0), "wrap-around is no loss")
	assert.Zero(t, s.next(200, 1), "a high CPU number grows the table")
	assert.Equal(t, uint32(2), s.next(200, 4))
	assert.Zero(t, s.next(maxSeqCPUs, 1))
	assert.Zero(t, s.next(maxSeqCPUs, 99), "CPU numbers beyond the table are ignored, not counted")
}
