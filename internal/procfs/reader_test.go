package procfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readProcessOS is the os.Open/os.Readlink implementation the Reader
// replaced, kept as the reference of the equivalence test and the
// alternative of the benchmark.
func readProcessOS(root string, pid int, o ReadOptions) (Process, error) {
	maxCmdline := o.MaxCmdline
	if maxCmdline <= 0 {
		maxCmdline = DefaultMaxCmdline
	}
	dir := Dir(root, pid)
	var p Process
	if !o.SkipStat {
		st, err := readStatDir(dir)
		if err != nil {
			return Process{PID: pid}, err
		}
		p = Process{PID: st.PID, PPID: st.PPID, Comm: st.Comm, StartTime: st.StartTime, State: st.State}
	}
	if b, err := readLimited(filepath.Join(dir, "status"), maxStatusBytes); err == nil {
		if s, err := ParseStatus(b); err == nil {
			p.UID, p.EUID, p.GID = s.RealUID(), s.EffectiveUID(), s.GID[0]
			if o.SkipStat {
				p.PID, p.PPID, p.Comm = s.PID, s.PPID, s.Name
			}
		} else if o.SkipStat {
			return Process{PID: pid}, fmt.Errorf("%s: %w", dir, err)
		} else {
			p.Partial = true
		}
	} else if o.SkipStat {
		return Process{PID: pid}, err
	} else {
		p.Partial = true
	}
	if b, err := readLimited(filepath.Join(dir, "cmdline"), maxCmdline+1); err == nil {
		p.Cmdline, p.CmdlineTruncated = ParseCmdline(b, maxCmdline)
		if len(b) == 0 && !isKernelThread(p) {
			p.Partial = true // no memory: exiting, or in the middle of an exec
		}
	} else {
		p.Partial = true
	}
	if exe, deleted, err := ReadExe(root, pid); err == nil {
		p.Exe, p.ExeDeleted = exe, deleted
	} else if !isKernelThread(p) {
		p.Partial = true
	}
	if !o.SkipCgroup {
		if b, err := readLimited(filepath.Join(dir, "cgroup"), maxCgroupBytes); err == nil {
			p.ContainerID, p.ContainerRuntime, _ = ContainerRuntimeID(b)
		} else {
			p.Partial = true
		}
	}
	return p, nil
}

// The Reader returns exactly what the os-based reader does, on the
// fixture tree and on live processes (with and without the /proc
// descriptor, with caps below and above the buffer sizes).
func TestReaderMatchesOS(t *testing.T) {
	huge := exec.Command("/bin/sh", "-c", "sleep 30", "sh", strings.Repeat("B", 100<<10), "\xff\n")
	require.NoError(t, huge.Start())
	defer func() { _ = huge.Process.Kill(); _ = huge.Wait() }()
	pids := []int{os.Getpid(), 1, huge.Process.Pid, 1 << 30}
	opts := []ReadOptions{{}, {MaxCmdline: 9}, {MaxCmdline: 64 << 10}, {SkipStat: true}, {SkipStat: true, SkipCgroup: true}, {MaxCmdline: 1}}
	check := func(root string, pids []int) {
		for _, r := range []*Reader{NewReader(root), newReader(root)} {
			for range 2 { // the second round reuses buffers and the cgroup cache
				for _, pid := range pids {
					for _, o := range opts {
						want, werr := readProcessOS(root, pid, o)
						got, gerr := r.Read(pid, o)
						// The state (R or S) changes from one read to the next.
						want.State, got.State = 0, 0
						if !assert.True(t, want == got, "root %s pid %d %+v", root, pid, o) {
							want.Cmdline, got.Cmdline = want.Cmdline[:min(64, len(want.Cmdline))], got.Cmdline[:min(64, len(got.Cmdline))]
							t.Logf("want %+v\n got %+v", want, got)
						}
						assert.Equal(t, werr == nil, gerr == nil, "root %s pid %d %+v: %v / %v", root, pid, o, werr, gerr)
						assert.Equal(t, fmt.Sprint(werr), fmt.Sprint(gerr))
						if werr != nil {
							assert.Equal(t, errorsIsNotExist(werr), errorsIsNotExist(gerr))
						}
					}
				}
			}
			require.NoError(t, r.Close())
		}
	}
	check("testdata/hostroot", []int{1, 2, 777, 4242, 99999})
	check("/", pids)
}

func errorsIsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// BenchmarkReadProcess reads this process (SkipStat, as the collector
// does) with the Reader and with the os-based reader it replaced.
func BenchmarkReadProcess(b *testing.B) {
	pid := os.Getpid()
	o := ReadOptions{SkipStat: true}
	b.Run("Reader", func(b *testing.B) {
		r := NewReader("/")
		defer r.Close()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Read(pid, o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("os", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := readProcessOS("/", pid, o); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The files one by one, to see what the kernel charges for each.
	r := NewReader("/")
	defer r.Close()
	for _, f := range []string{"stat", "status", "cmdline", "cgroup"} {
		b.Run("file="+f, func(b *testing.B) {
			for b.Loop() {
				if _, err := r.readFile(pid, f, maxStatusBytes); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("file=exe", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := r.readExe(pid); err != nil {
				b.Fatal(err)
			}
		}
	})
}
