package kernel

import (
	"encoding/binary"
	"errors"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeRing is a ring buffer in ordinary memory, written the way the
// kernel writes one (header, data padded to 8 bytes, the data pages seen
// twice in a row), for the reader's logic without BPF.
type fakeRing struct {
	cons, prod, data []byte
	size             int
	r                *ring
}

func newFakeRing(size int) *fakeRing {
	f := &fakeRing{cons: make([]byte, 8), prod: make([]byte, 8), data: make([]byte, size), size: size}
	f.r = ringOver(f.cons, f.prod, f.data, size)
	return f
}

func (f *fakeRing) pos(b []byte) uintptr       { return *(*uintptr)(unsafe.Pointer(&b[0])) }
func (f *fakeRing) setPos(b []byte, v uintptr) { *(*uintptr)(unsafe.Pointer(&b[0])) = v }

// put writes one record with the given header flags and payload at the
// producer position and advances it.
func (f *fakeRing) put(flags uint32, payload []byte) {
	p := f.pos(f.prod)
	rec := make([]byte, ringHeaderSize+(len(payload)+7)&^7)
	binary.LittleEndian.PutUint32(rec, uint32(len(payload))|flags)
	copy(rec[ringHeaderSize:], payload)
	for i, c := range rec {
		f.data[(int(p)+i)%f.size] = c
	}
	f.setPos(f.prod, p+uintptr(len(rec)))
}

func (f *fakeRing) readAll(t *testing.T) (got []string, busy bool) {
	t.Helper()
	_, busy, err := f.r.read(func(b []byte) { got = append(got, string(b)) })
	require.NoError(t, err)
	return got, busy
}

func TestRingReadsInOrderAcrossTheWrap(t *testing.T) {
	f := newFakeRing(64)
	assert.False(t, f.r.available())
	f.put(0, []byte("first"))
	f.put(ringDiscardBit, []byte("discarded"))
	f.put(0, []byte("second-record"))
	assert.True(t, f.r.available())
	got, busy := f.readAll(t)
	assert.Equal(t, []string{"first", "second-record"}, got)
	assert.False(t, busy)
	assert.False(t, f.r.available(), "the consumer position is released to the kernel")
	// Records now cross the end of the 64 bytes: reassembled whole, the
	// header's and the data's wrap both included.
	wraps := 0
	for i := range 10 {
		if at := int(f.pos(f.prod)) % f.size; at+ringHeaderSize < f.size && at+ringHeaderSize+9 > f.size {
			wraps++ // this record's data crosses the end
		}
		f.put(0, []byte{'a' + byte(i), 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'})
		got, _ := f.readAll(t)
		require.Equal(t, []string{string([]byte{'a' + byte(i)}) + "bcdefghi"}, got)
	}
	require.Positive(t, wraps, "no record's data crossed the end")
}

func TestRingStopsAtABusyRecord(t *testing.T) {
	f := newFakeRing(64)
	f.put(0, []byte("done"))
	f.put(ringBusyBit, []byte("writing"))
	got, busy := f.readAll(t)
	assert.Equal(t, []string{"done"}, got)
	assert.True(t, busy)
	assert.True(t, f.r.available(), "the busy record stays queued")
	// Committed: the kernel clears the busy bit.
	at := int(f.pos(f.cons)) % f.size
	binary.LittleEndian.PutUint32(f.data[at:], uint32(len("writing")))
	got, busy = f.readAll(t)
	assert.Equal(t, []string{"writing"}, got)
	assert.False(t, busy)
}

func TestRingPositionsOutOfStep(t *testing.T) {
	f := newFakeRing(64)
	f.put(0, []byte("0123456789abcdef"))
	f.setPos(f.prod, f.pos(f.prod)-8) // the record's end is not produced
	_, _, err := f.r.read(func([]byte) { t.Fatal("a partial record was handed out") })
	assert.True(t, errors.Is(err, errRing), "%v", err)
	f.r.skip()
	assert.False(t, f.r.available())
	f.setPos(f.prod, f.pos(f.prod)+4) // less than a header
	_, _, err = f.r.read(func([]byte) {})
	assert.True(t, errors.Is(err, errRing), "%v", err)
}
