package process

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/internal/evqueue"
	"github.com/edgesec/edgesec/internal/procfs"
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
		status, sig, core := procfs.DecodeWaitStatus(c.ws)
		assert.Equal(t, c.status, status, "%#x", c.ws)
		assert.Equal(t, c.sig, sig)
		assert.Equal(t, c.core, core)
	}
	assert.Equal(t, "SIGKILL", procfs.SignalName(unix.SIGKILL))
	assert.Equal(t, "50", procfs.SignalName(50))
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
			out := evqueue.New(DefaultQueueSize)
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
					_ = out.Take()
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
// is events the kernel dropped on a full socket buffer (Stats.LostEvents),
// unless the skipped number arrives late (two tasks on one CPU sending in
// the other order): skipped numbers are counted once they leave the last
// 64 of their CPU or waited a second; the count never goes down.
func TestSeqTrackerCountsGapsPerCPU(t *testing.T) {
	var s seqTracker
	t0 := time.Unix(1000, 0)
	next := func(cpu, seq uint32) uint64 { return s.next(cpu, seq, t0) }
	assert.Zero(t, next(0, 100), "the first event of a CPU is no gap")
	assert.Zero(t, next(0, 101))
	assert.Zero(t, next(3, 7), "CPUs are counted apart")
	assert.Zero(t, next(0, 106), "102..105 skipped: pending")
	assert.Zero(t, next(3, 8))
	assert.Zero(t, next(3, 10), "9 pending")
	assert.Zero(t, next(0, 106), "a repeated number is no loss")
	assert.Zero(t, next(0, 104), "104 came late")
	assert.Zero(t, next(0, 50), "a much older one changes nothing")
	assert.Zero(t, s.expire(t0.Add(time.Second/2)), "not yet a second")
	assert.Equal(t, uint64(4), s.expire(t0.Add(time.Second)), "102, 103, 105 and 9 never came")
	assert.Zero(t, s.expire(t0.Add(2*time.Second)), "counted once")
	assert.Zero(t, next(0, 103), "too late: already counted")

	assert.Zero(t, next(0, 108), "107 pending")
	assert.Zero(t, next(0, 171), "64 numbers later 107 is still in the window")
	assert.Equal(t, uint64(1), next(0, 172), "now it left the window: lost")
	assert.Equal(t, uint64(62+35), next(0, 272), "a gap of 99: the 62 pending (109..170) and the 35 beyond the new window (172..206)")
	assert.Zero(t, next(0, 260), "a late one within the last 64")
	assert.Equal(t, uint64(63), s.expire(t0.Add(3*time.Second)), "the other 63 of the window")

	assert.Zero(t, next(1, ^uint32(0)))
	assert.Zero(t, next(1, 0), "wrap-around is no gap")
	assert.Zero(t, next(1, 2))
	assert.Zero(t, next(1, 1), "1 came late across the wrap-around")
	assert.Zero(t, s.expire(t0.Add(5*time.Second)))
	assert.Zero(t, next(200, 1), "a high CPU number grows the table")
	assert.Zero(t, next(200, 4))
	assert.Equal(t, uint64(2), s.expire(t0.Add(7*time.Second)))
	assert.Zero(t, next(maxSeqCPUs, 1))
	assert.Zero(t, next(maxSeqCPUs, 99), "CPU numbers beyond the table are ignored, not counted")
}

// Losses are reported at once, then at most every ReportEvery, and only
// when a counter changed.
func TestLossReportsRateLimited(t *testing.T) {
	c := New(Options{ReportEvery: time.Minute})
	rec := collectortest.NewRecorder()
	ctx := context.Background()
	var r lossReport
	t0 := time.Unix(1000, 0)
	c.checkLosses(ctx, rec, &r, t0)
	assert.Empty(t, rec.Errors(), "nothing lost, nothing said")

	c.lost.Add(7)
	c.overruns.Add(1)
	c.noCmdline.Add(3)
	c.checkLosses(ctx, rec, &r, t0.Add(time.Second))
	require.Len(t, rec.Errors(), 1, "the first loss is reported at once")
	err := rec.Errors()[0].Err
	assert.ErrorIs(t, err, ErrLoss)
	assert.Contains(t, err.Error(), "7 events lost")
	assert.Contains(t, err.Error(), "(1 ENOBUFS")
	assert.Contains(t, err.Error(), "3 process creations sent without a command line")
	assert.Equal(t, int64(7), c.Dropped())

	c.dropped.Add(2)
	c.checkLosses(ctx, rec, &r, t0.Add(30*time.Second))
	assert.Len(t, rec.Errors(), 1, "not again within ReportEvery")
	c.checkLosses(ctx, rec, &r, t0.Add(62*time.Second))
	require.Len(t, rec.Errors(), 2, "the change is reported once ReportEvery passed")
	assert.Contains(t, rec.Errors()[1].Err.Error(), "2 dropped on a full queue")
	assert.Equal(t, int64(9), c.Dropped())
	c.checkLosses(ctx, rec, &r, t0.Add(200*time.Second))
	assert.Len(t, rec.Errors(), 2, "no change, no report")
}
