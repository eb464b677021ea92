package kernel

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/evqueue"
	"github.com/edgesec/edgesec/internal/procfs"
	"github.com/edgesec/edgesec/schemas"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".bin"))
	require.NoError(t, err)
	return b
}

func TestParseFixtures(t *testing.T) {
	var r record

	require.NoError(t, parseRecord(fixture(t, "exec"), &r))
	assert.EqualValues(t, recExec, r.Type)
	assert.Equal(t, "/bin/true", r.Exec.Filename)
	assert.Equal(t, "true", r.Comm)
	assert.Equal(t, "sh", r.Exec.ParentComm)
	assert.Equal(t, "/bin/true\x00edgesec-fixture\x00two words\x00", string(r.Exec.Argv))
	assert.Equal(t, r.PID, r.TGID)
	assert.NotZero(t, r.PPID)
	assert.NotZero(t, r.KTime)
	assert.NotZero(t, r.CgroupID)
	assert.NotEmpty(t, r.Exec.CgroupLeaf)
	assert.Zero(t, r.Flags)

	require.NoError(t, parseRecord(fixture(t, "exit_signal"), &r))
	assert.EqualValues(t, recExit, r.Type)
	assert.Equal(t, "sh", r.Comm)
	status, sig, core := procfs.DecodeWaitStatus(r.Code)
	assert.Equal(t, 137, status)
	assert.Equal(t, "SIGKILL", procfs.SignalName(sig))
	assert.False(t, core)

	require.NoError(t, parseRecord(fixture(t, "fork"), &r))
	assert.EqualValues(t, recFork, r.Type)
	assert.NotZero(t, r.PPID)
	assert.NotEqual(t, r.PPID, r.TGID)

	require.NoError(t, parseRecord(fixture(t, "connect6"), &r))
	assert.EqualValues(t, recConnect, r.Type)
	assert.EqualValues(t, afINET6, r.Conn.Family)
	assert.Equal(t, "::1", r.Conn.Local.Addr().String())
	assert.Equal(t, "::1", r.Conn.Remote.Addr().String())
	assert.NotZero(t, r.Conn.Local.Port(), "the source port is known at ESTABLISHED")
	assert.NotZero(t, r.Conn.Remote.Port())

	require.NoError(t, parseRecord(fixture(t, "accept4"), &r))
	assert.EqualValues(t, recAccept, r.Type)
	assert.EqualValues(t, afINET, r.Conn.Family)
	assert.Equal(t, "127.0.0.1", r.Conn.Local.Addr().String())
	assert.Equal(t, "127.0.0.1", r.Conn.Remote.Addr().String())

	require.NoError(t, parseRecord(fixture(t, "udp4"), &r))
	assert.EqualValues(t, recUDP, r.Type)
	assert.EqualValues(t, afINET, r.Conn.Family)
	assert.Equal(t, "0.0.0.0", r.Conn.Local.Addr().String(), "an unbound socket")
	assert.NotZero(t, r.Conn.Local.Port(), "bound by the first send")
	assert.Equal(t, "127.0.0.1", r.Conn.Remote.Addr().String())
	assert.NotZero(t, r.Conn.Remote.Port())
	assert.Zero(t, r.Flags&(flagUDPConnected|flagUDPBound))

	require.NoError(t, parseRecord(fixture(t, "activity_open"), &r))
	assert.EqualValues(t, recActivity, r.Type)
	assert.EqualValues(t, actOpen, r.Act.Kind)
	assert.Equal(t, "/etc/shadow", r.Act.Path)
	assert.Equal(t, OpRead, Op(r.Act.Ops))
	assert.Equal(t, "cat", r.Comm)
}

func TestParseMalformed(t *testing.T) {
	exec := fixture(t, "exec")
	conn := fixture(t, "connect6")
	set16 := func(b []byte, off int, v uint16) []byte {
		b = bytes.Clone(b)
		binary.LittleEndian.PutUint16(b[off:], v)
		return b
	}
	cases := map[string][]byte{
		"empty":             nil,
		"short header":      exec[:taskRecSize-1],
		"unknown type":      append([]byte{99, 0, 0, 0}, exec[4:taskRecSize]...),
		"exec without body": exec[:execOffArgv-1],
		"argv past the end": exec[:len(exec)-1],
		"argv too long":     set16(exec, execOffLens+2, argvMax+1),
		"filename too long": set16(exec, execOffLens, filenameMax),
		"cgroup too long":   set16(exec, execOffLens+4, cgroupNameMax),
		"short connection":  conn[:connRecSize-1],
		"bad family":        set16(conn, connOffFamily, 1),
		"short udp":         fixture(t, "udp4")[:connRecSize-1],
		"udp family":        set16(fixture(t, "udp4"), connOffFamily, 1),
		"short activity":    fixture(t, "activity_open")[:actRecSize-1],
		"activity path":     set16(fixture(t, "activity_open"), actOffKind+28, actPathMax),
		"activity kind":     set16(fixture(t, "activity_open"), actOffKind, 99),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			var r record
			err := parseRecord(b, &r)
			assert.True(t, errors.Is(err, errRecord), "got %v", err)
		})
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, name := range []string{"exec", "exit_signal", "fork", "connect6", "accept4", "activity_open", "udp4"} {
		f.Add(fixture(f, name))
	}
	// One enricher for the worker (calls are sequential), over an empty
	// host root: building events must not depend on the machine.
	e := testEnricher(f, Options{HostRoot: f.TempDir(), MaxTracked: 64})
	strs := newInterner()
	f.Fuzz(func(t *testing.T, b []byte) {
		var r record
		err := parseRecord(b, &r)
		// Interned strings change nothing.
		shared := record{strs: strs}
		if ierr := parseRecord(b, &shared); (ierr == nil) != (err == nil) {
			t.Fatalf("parse with shared strings: %v, without: %v", ierr, err)
		}
		if err != nil {
			return
		}
		shared.strs = nil
		if !reflect.DeepEqual(r, shared) {
			t.Fatalf("parse with shared strings differs:\n%+v\n%+v", shared, r)
		}
		if r.Type == recExec {
			if len(r.Exec.Argv) > argvMax || len(r.Exec.Filename) >= filenameMax {
				t.Fatalf("lengths out of bounds: argv %d, filename %d", len(r.Exec.Argv), len(r.Exec.Filename))
			}
		}
		// Whatever parses must build an event that encodes.
		e.handle(&r)
		for _, ev := range e.batch {
			_ = ev.AppendJSON(nil)
		}
		clear(e.batch)
		e.batch = e.batch[:0]
	})
}

// testEnricher returns an enricher of a collector with no kernel part.
func testEnricher(t testing.TB, opts Options) *enricher {
	opts = opts.withDefaults()
	c := &Collector{opts: opts, l: &loaded{}, users: procfs.NewUserCache(opts.HostRoot, 0)}
	e := newEnricher(c, context.Background(), evqueue.New(opts.QueueSize))
	t.Cleanup(e.close)
	return e
}

// TestEventsFromFixtures builds the events of the fixtures (no kernel
// needed) and validates them against the official schemas.
func TestEventsFromFixtures(t *testing.T) {
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	e := testEnricher(t, Options{HostRoot: t.TempDir()})
	var r record
	for _, name := range []string{"fork", "exec", "exit_signal", "connect6", "accept4", "activity_open", "udp4"} {
		require.NoError(t, parseRecord(fixture(t, name), &r))
		e.handle(&r)
	}
	require.Len(t, e.batch, 6) // a fork is no event
	for _, ev := range e.batch {
		require.NoError(t, v.ValidateEvent(ev), "%s", ev.AppendJSON(nil))
	}
	create := e.batch[0].Payload[0].(*event.ProcessCreatePayload)
	assert.Equal(t, "/bin/true edgesec-fixture two words", create.CommandLine)
	assert.Equal(t, "/bin/true", create.Executable, "no symlink to resolve under an empty host root")
	assert.Equal(t, "ebpf", create.ExtraDetails[KeySource])
	term := e.batch[1].Payload[0].(*event.ProcessTerminatePayload)
	assert.Equal(t, 137, term.ExitStatus)
	assert.Equal(t, "SIGKILL", term.ExtraDetails[KeySignal])
	out := e.batch[2].Payload[0].(*event.ConnectionCreatePayload)
	assert.Equal(t, event.DirectionOut, out.Direction)
	assert.Equal(t, "IPv6", out.ExtraDetails[KeyFamily])
	assert.Equal(t, "true", out.ExtraDetails[KeyLoopback])
	in := e.batch[3].Payload[0].(*event.ConnectionCreatePayload)
	assert.Equal(t, event.DirectionIn, in.Direction)
	assert.Equal(t, "TCP", in.Protocol)
	act := e.batch[4].Payload[0].(*event.KernelActivityPayload)
	assert.Equal(t, event.ActivityOpenRead, act.Action)
	assert.Equal(t, "/etc/shadow", act.Path)
	assert.Equal(t, "read", act.Operations)
	assert.Equal(t, "00", act.ExtraDetails[KeyOpenFlags])
	udp := e.batch[5].Payload[0].(*event.ConnectionCreatePayload)
	assert.Equal(t, "UDP", udp.Protocol)
	assert.Equal(t, event.DirectionOut, udp.Direction)
	assert.Equal(t, "UNCONNECTED", udp.ExtraDetails[KeyState])
	assert.Equal(t, "127.0.0.1", udp.RemoteAddress)
	assert.Equal(t, "0.0.0.0", udp.LocalAddress)
	assert.Equal(t, "true", udp.ExtraDetails[KeyLoopback])
}

// The flags of a UDP record make its State and Direction.
func TestUDPFlags(t *testing.T) {
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	e := testEnricher(t, Options{HostRoot: t.TempDir()})
	for _, c := range []struct {
		flags            uint32
		state, direction string
	}{
		{0, "UNCONNECTED", event.DirectionOut},
		{flagUDPConnected, "CONNECTED", event.DirectionOut},
		{flagUDPBound, "UNCONNECTED", event.DirectionIn},
		{flagUDPConnected | flagUDPBound, "CONNECTED", event.DirectionIn},
	} {
		b := bytes.Clone(fixture(t, "udp4"))
		binary.LittleEndian.PutUint32(b[4:], c.flags)
		var r record
		require.NoError(t, parseRecord(b, &r))
		e.handle(&r)
		require.Len(t, e.batch, 1)
		require.NoError(t, v.ValidateEvent(e.batch[0]))
		p := e.batch[0].Payload[0].(*event.ConnectionCreatePayload)
		assert.Equal(t, c.state, p.ExtraDetails[KeyState], "flags %#x", c.flags)
		assert.Equal(t, c.direction, p.Direction, "flags %#x", c.flags)
		e.batch = e.batch[:0]
	}
}

func TestWatchedPaths(t *testing.T) {
	_, err := watchedEntries(DefaultWatchedPaths)
	require.NoError(t, err)
	for _, bad := range [][]WatchedPath{
		{{"etc/", OpRead}},
		{{"/" + strings.Repeat("x", MaxWatchedPrefix), OpRead}},
		{{"/etc/", 0}},
		{{"/etc/", 1 << 7}},
		make([]WatchedPath, MaxWatchedPaths+1),
	} {
		_, err := watchedEntries(bad)
		assert.Error(t, err, "%v", bad)
	}
	o, err := ParseOp("read|truncate")
	require.NoError(t, err)
	assert.Equal(t, OpRead|OpTruncate, o)
	assert.Equal(t, "read|truncate", o.String())
	_, err = ParseOp("read|exec")
	assert.Error(t, err)
}

func TestContainerFromCgroupNames(t *testing.T) {
	e := testEnricher(t, Options{})
	id := strings.Repeat("ab", 32)
	for _, c := range []struct{ leaf, parent, want string }{
		{"docker-" + id + ".scope", "system.slice", id},
		{id, "docker", id},
		{"init.scope", "docker-" + id + ".scope", id}, // systemd inside the container
		{"session-3.scope", "user-0.slice", ""},
	} {
		ci, ok := e.container(uint64(len(e.cgroups)+1), c.leaf, c.parent)
		require.True(t, ok)
		if c.want == "" {
			assert.Nil(t, ci, "%s/%s", c.parent, c.leaf)
			continue
		}
		require.NotNil(t, ci, "%s/%s", c.parent, c.leaf)
		assert.Equal(t, c.want, ci.id)
	}
	_, ok := e.container(0, "", "")
	assert.False(t, ok, "a cgroup v1 host does not tell")
}

func TestTableBounded(t *testing.T) {
	tb := newTable(100)
	for pid := range 1000 {
		tb.put(pid, &procInfo{})
		require.LessOrEqual(t, tb.len(), 100)
	}
	assert.NotNil(t, tb.get(999))
	assert.Nil(t, tb.get(0))
	assert.NotNil(t, tb.remove(999))
	assert.Nil(t, tb.get(999))
}

// The committed object's counter map has one slot per counter the Go side
// reads (enum stat in bpf/events.c): a counter added on one side only
// fails here, without loading anything.
func TestCounterMapMatchesGo(t *testing.T) {
	spec, err := loadEvents()
	require.NoError(t, err)
	m, ok := spec.Maps["stats"]
	require.True(t, ok, "the object has no stats map")
	require.Equal(t, uint32(statMax), m.MaxEntries, "stats map entries vs statMax")
}

func TestInternerSharesAndIsBounded(t *testing.T) {
	in := newInterner()
	a := in.str([]byte("true"))
	b := in.str([]byte("true"))
	assert.Equal(t, "true", b)
	assert.Same(t, unsafe.StringData(a), unsafe.StringData(b), "a repeated string is shared")
	long := bytes.Repeat([]byte("x"), internLen+1)
	assert.Equal(t, string(long), in.str(long))
	assert.Len(t, in.m, 1, "a string longer than internLen is not kept")
	for i := range 3 * internMax {
		in.str([]byte(strconv.Itoa(i)))
		require.LessOrEqual(t, len(in.m), internMax)
	}
	var none *interner
	assert.Equal(t, "sh", none.str([]byte("sh")), "a nil interner allocates")
}
