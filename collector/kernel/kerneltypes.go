package kernel

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// vmlinuxBTF is where the running kernel publishes its BTF.
const vmlinuxBTF = "/sys/kernel/btf/vmlinux"

// The programs' CO-RE relocations (a member's offset, whether it exists,
// an enum's value) are resolved against the running kernel's types. Given
// no types, cilium/ebpf parses the kernel's whole BTF (5 MB on Linux 6.18,
// some 150,000 types): an index of every type (about 2 MB), and for each
// type a program reads, everything it refers to (task_struct alone is
// 3.6 MB of Go values). That was most of the module's start-up peak.
//
// kernelTypes reads only what the relocations can match, which is what
// `bpftool gen min_core_btf` computes: the kernel types named like one of
// the program's own types (bpf/vmlinux.h declares only the members the
// programs read), with only the members named like one of theirs, at
// their kernel offsets. It streams the kernel's BTF twice (its strings,
// then its type headers), keeping the type offsets (4 bytes a type), and
// reads the few hundred types it keeps one by one. The result is a BTF
// spec of about a hundred types that cilium/ebpf relocates against
// (ProgramOptions.KernelTypes) as it would against the whole.

// maxTypeDepth bounds the nesting of members kept by value (a struct in a
// struct): kernel types nest a few levels deep; a BTF whose nesting is
// deeper than this is refused rather than followed.
const maxTypeDepth = 32

// BTF kinds (include/uapi/linux/btf.h).
const (
	btfKindInt       = 1
	btfKindPtr       = 2
	btfKindArray     = 3
	btfKindStruct    = 4
	btfKindUnion     = 5
	btfKindEnum      = 6
	btfKindFwd       = 7
	btfKindTypedef   = 8
	btfKindVolatile  = 9
	btfKindConst     = 10
	btfKindRestrict  = 11
	btfKindFunc      = 12
	btfKindFuncProto = 13
	btfKindVar       = 14
	btfKindDatasec   = 15
	btfKindFloat     = 16
	btfKindDeclTag   = 17
	btfKindTypeTag   = 18
	btfKindEnum64    = 19
)

// btfMagic is the first two bytes of raw BTF, in its byte order.
const btfMagic = 0xeb9f

// wantedTypes is what kernelTypes keeps: the names of the program's types
// (struct, union, enum, typedef; flavours, "___x86", stripped) and the
// names of their members at any depth.
type wantedTypes struct {
	types   map[string]bool
	members map[string]bool
}

// localWanted lists the types and members the programs' own BTF (the
// object's) declares.
func localWanted(local *btf.Spec) (wantedTypes, error) {
	w := wantedTypes{types: map[string]bool{}, members: map[string]bool{}}
	var addMembers func(ms []btf.Member)
	addMembers = func(ms []btf.Member) {
		for _, m := range ms {
			if m.Name != "" {
				w.members[m.Name] = true
				continue
			}
			switch t := btf.UnderlyingType(m.Type).(type) {
			case *btf.Struct:
				addMembers(t.Members)
			case *btf.Union:
				addMembers(t.Members)
			}
		}
	}
	for typ, err := range local.All() {
		if err != nil {
			return w, fmt.Errorf("program types: %w", err)
		}
		switch t := typ.(type) {
		case *btf.Struct:
			addMembers(t.Members)
		case *btf.Union:
			addMembers(t.Members)
		case *btf.Enum, *btf.Typedef, *btf.Fwd:
		default:
			continue
		}
		if name := essentialName(typ.TypeName()); name != "" {
			w.types[name] = true
		}
	}
	return w, nil
}

// essentialName strips a CO-RE flavour: "pt_regs___x86" is "pt_regs".
func essentialName(name string) string {
	if i := strings.LastIndex(name, "___"); i > 0 {
		return name[:i]
	}
	return name
}

// loadKernelTypes reads the running kernel's BTF for the types w names.
func loadKernelTypes(w wantedTypes) (*btf.Spec, error) {
	f, err := os.Open(vmlinuxBTF)
	if err != nil {
		return nil, fmt.Errorf("kernel BTF: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("kernel BTF: %w", err)
	}
	spec, err := kernelTypes(f, fi.Size(), w)
	if err != nil {
		return nil, fmt.Errorf("kernel BTF %s: %w", vmlinuxBTF, err)
	}
	return spec, nil
}

// rawBTF reads types from raw BTF (the format of /sys/kernel/btf/vmlinux)
// through an io.ReaderAt.
type rawBTF struct {
	r        io.ReaderAt
	bo       binary.ByteOrder
	typeOff  int64 // of the type section in r
	typeLen  int64
	strOff   int64 // of the string section in r
	strLen   int64
	offsets  []uint32 // of type ID i+1 in the type section
	names    map[uint32]string
	wanted   wantedTypes
	memberAt map[uint32]bool // string offsets of wanted member names
	done     map[emitKey]btf.Type
	roots    map[uint32]bool // type IDs named like a wanted type
}

type emitKey struct {
	id     uint32
	expand bool // members kept (by name); false: a named stub
}

// btfRecord is one type's fixed part.
type btfRecord struct {
	nameOff uint32
	info    uint32
	sizeTyp uint32 // size or type, by kind
}

func (t btfRecord) kind() int      { return int(t.info>>24) & 0x1f }
func (t btfRecord) vlen() int      { return int(t.info & 0xffff) }
func (t btfRecord) kindFlag() bool { return t.info>>31 == 1 }

// extraLen is the size of the data that follows the fixed part.
func (t btfRecord) extraLen() (int, error) {
	n := t.vlen()
	switch t.kind() {
	case btfKindInt, btfKindVar, btfKindDeclTag:
		return 4, nil
	case btfKindPtr, btfKindFwd, btfKindTypedef, btfKindVolatile, btfKindConst, btfKindRestrict,
		btfKindFunc, btfKindFloat, btfKindTypeTag:
		return 0, nil
	case btfKindArray:
		return 12, nil
	case btfKindStruct, btfKindUnion, btfKindDatasec, btfKindEnum64:
		return 12 * n, nil
	case btfKindEnum, btfKindFuncProto:
		return 8 * n, nil
	}
	return 0, fmt.Errorf("unknown BTF kind %d", t.kind())
}

// kernelTypes reads, from the raw BTF of size bytes in r, the types w
// asks for, and returns them as a spec.
func kernelTypes(r io.ReaderAt, size int64, w wantedTypes) (*btf.Spec, error) {
	b := &rawBTF{r: r, wanted: w, names: map[uint32]string{}, memberAt: map[uint32]bool{},
		done: map[emitKey]btf.Type{}, roots: map[uint32]bool{}}
	if err := b.header(size); err != nil {
		return nil, err
	}
	typeAt, err := b.scanStrings()
	if err != nil {
		return nil, err
	}
	if err := b.scanTypes(typeAt); err != nil {
		return nil, err
	}
	var types []btf.Type
	for id := uint32(1); id <= uint32(len(b.offsets)); id++ {
		if !b.roots[id] {
			continue
		}
		t, err := b.emit(id, true, 0)
		if err != nil {
			return nil, fmt.Errorf("type %d: %w", id, err)
		}
		types = append(types, t)
	}
	if len(types) == 0 {
		return nil, errors.New("none of the programs' types is in it")
	}
	bld, err := btf.NewBuilder(types, nil)
	if err != nil {
		return nil, err
	}
	return bld.Spec()
}

// header reads the BTF header and checks that its sections lie in the
// file.
func (b *rawBTF) header(size int64) error {
	var h [24]byte
	if _, err := b.r.ReadAt(h[:], 0); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	switch {
	case binary.LittleEndian.Uint16(h[:]) == btfMagic:
		b.bo = binary.LittleEndian
	case binary.BigEndian.Uint16(h[:]) == btfMagic:
		b.bo = binary.BigEndian
	default:
		return fmt.Errorf("not BTF (magic %#x)", h[:2])
	}
	hdrLen := int64(b.bo.Uint32(h[4:]))
	if hdrLen < 24 || hdrLen > size {
		return fmt.Errorf("header length %d", hdrLen)
	}
	b.typeOff = hdrLen + int64(b.bo.Uint32(h[8:]))
	b.typeLen = int64(b.bo.Uint32(h[12:]))
	b.strOff = hdrLen + int64(b.bo.Uint32(h[16:]))
	b.strLen = int64(b.bo.Uint32(h[20:]))
	if b.typeOff+b.typeLen > size || b.strOff+b.strLen > size {
		return fmt.Errorf("sections (types %d+%d, strings %d+%d) beyond its %d bytes",
			b.typeOff, b.typeLen, b.strOff, b.strLen, size)
	}
	return nil
}

// scanStrings reads the string section once and returns the offsets of
// the wanted type names (and records those of the wanted member names).
func (b *rawBTF) scanStrings() (map[uint32]bool, error) {
	typeAt := map[uint32]bool{}
	br := bufio.NewReaderSize(io.NewSectionReader(b.r, b.strOff, b.strLen), 32<<10)
	off := int64(0)
	for off < b.strLen {
		s, err := br.ReadSlice(0)
		if errors.Is(err, bufio.ErrBufferFull) {
			// A string longer than the buffer: no type is named so.
			for errors.Is(err, bufio.ErrBufferFull) {
				off += int64(len(s))
				s, err = br.ReadSlice(0)
			}
			off += int64(len(s))
			continue
		}
		if err != nil {
			if err == io.EOF {
				break // an unterminated last string
			}
			return nil, fmt.Errorf("strings: %w", err)
		}
		name := s[:len(s)-1]
		if len(name) > 0 {
			if b.wanted.types[string(name)] {
				typeAt[uint32(off)] = true
			}
			if b.wanted.members[string(name)] {
				b.memberAt[uint32(off)] = true
			}
		}
		off += int64(len(s))
	}
	return typeAt, nil
}

// scanTypes reads the type section once: every type's offset, and which
// ones are named like a wanted type.
func (b *rawBTF) scanTypes(typeAt map[uint32]bool) error {
	br := bufio.NewReaderSize(io.NewSectionReader(b.r, b.typeOff, b.typeLen), 32<<10)
	var rec [12]byte
	for off := int64(0); off < b.typeLen; {
		if _, err := io.ReadFull(br, rec[:]); err != nil {
			return fmt.Errorf("type %d at %d: %w", len(b.offsets)+1, off, err)
		}
		t := btfRecord{b.bo.Uint32(rec[0:]), b.bo.Uint32(rec[4:]), b.bo.Uint32(rec[8:])}
		n, err := t.extraLen()
		if err != nil {
			return fmt.Errorf("type %d: %w", len(b.offsets)+1, err)
		}
		if off+12+int64(n) > b.typeLen {
			return fmt.Errorf("type %d overruns the type section", len(b.offsets)+1)
		}
		if _, err := br.Discard(n); err != nil {
			return fmt.Errorf("type %d: %w", len(b.offsets)+1, err)
		}
		b.offsets = append(b.offsets, uint32(off))
		if typeAt[t.nameOff] {
			switch t.kind() {
			case btfKindStruct, btfKindUnion, btfKindEnum, btfKindEnum64, btfKindTypedef, btfKindFwd:
				b.roots[uint32(len(b.offsets))] = true
			}
		}
		off += 12 + int64(n)
	}
	return nil
}

// record reads type id's fixed part and the data that follows it.
func (b *rawBTF) record(id uint32) (btfRecord, []byte, error) {
	if id == 0 || id > uint32(len(b.offsets)) {
		return btfRecord{}, nil, fmt.Errorf("type id %d out of range", id)
	}
	off := b.typeOff + int64(b.offsets[id-1])
	var rec [12]byte
	if _, err := b.r.ReadAt(rec[:], off); err != nil {
		return btfRecord{}, nil, err
	}
	t := btfRecord{b.bo.Uint32(rec[0:]), b.bo.Uint32(rec[4:]), b.bo.Uint32(rec[8:])}
	n, _ := t.extraLen() // checked by scanTypes
	extra := make([]byte, n)
	if _, err := b.r.ReadAt(extra, off+12); err != nil {
		return btfRecord{}, nil, err
	}
	return t, extra, nil
}

// name reads the string at off in the string section.
func (b *rawBTF) name(off uint32) (string, error) {
	if off == 0 {
		return "", nil
	}
	if s, ok := b.names[off]; ok {
		return s, nil
	}
	if int64(off) >= b.strLen {
		return "", fmt.Errorf("name offset %d beyond the strings", off)
	}
	var s []byte
	buf := make([]byte, 64)
	for at := b.strOff + int64(off); at < b.strOff+b.strLen; at += int64(len(buf)) {
		n, err := b.r.ReadAt(buf[:min(int64(len(buf)), b.strOff+b.strLen-at)], at)
		if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
			s = append(s, buf[:i]...)
			b.names[off] = string(s)
			return b.names[off], nil
		}
		s = append(s, buf[:n]...)
		if err != nil {
			return "", fmt.Errorf("name at %d: %w", off, err)
		}
	}
	return "", fmt.Errorf("name at %d: not terminated", off)
}

// emit converts type id. A struct or union is expanded (its members named
// like a wanted member, and the anonymous ones holding such members) when
// it is named like a wanted type or held by value in an expanded one;
// otherwise (reached through a pointer) it is a stub with its name and
// size: enough for CO-RE, which relocates each pointer's target by its
// own name.
func (b *rawBTF) emit(id uint32, expand bool, depth int) (btf.Type, error) {
	if id == 0 {
		return (*btf.Void)(nil), nil
	}
	if depth > maxTypeDepth {
		return nil, fmt.Errorf("types nested deeper than %d", maxTypeDepth)
	}
	if b.roots[id] {
		expand = true
	}
	key := emitKey{id, expand}
	if t, ok := b.done[key]; ok {
		return t, nil
	}
	rec, extra, err := b.record(id)
	if err != nil {
		return nil, err
	}
	name, err := b.name(rec.nameOff)
	if err != nil {
		return nil, err
	}
	// A type that refers to one other type keeps the mode it was reached
	// in (a typedef of a struct held by value is expanded).
	wrap := func(w func(btf.Type) btf.Type) (btf.Type, error) {
		t, err := b.emit(rec.sizeTyp, expand, depth+1)
		if err != nil {
			return nil, err
		}
		b.done[key] = w(t)
		return b.done[key], nil
	}
	var typ btf.Type
	switch rec.kind() {
	case btfKindInt:
		typ = &btf.Int{Name: name, Size: rec.sizeTyp, Encoding: btf.IntEncoding(b.bo.Uint32(extra) >> 24 & 0xf)}
	case btfKindFloat:
		typ = &btf.Float{Name: name, Size: rec.sizeTyp}
	case btfKindPtr:
		p := &btf.Pointer{}
		b.done[key] = p // a struct may point to itself
		target, err := b.emit(rec.sizeTyp, false, depth+1)
		if err != nil {
			return nil, err
		}
		p.Target = target
		return p, nil
	case btfKindTypedef:
		return wrap(func(t btf.Type) btf.Type { return &btf.Typedef{Name: name, Type: t} })
	case btfKindConst:
		return wrap(func(t btf.Type) btf.Type { return &btf.Const{Type: t} })
	case btfKindVolatile:
		return wrap(func(t btf.Type) btf.Type { return &btf.Volatile{Type: t} })
	case btfKindRestrict:
		return wrap(func(t btf.Type) btf.Type { return &btf.Restrict{Type: t} })
	case btfKindTypeTag:
		return wrap(func(t btf.Type) btf.Type { return &btf.TypeTag{Value: name, Type: t} })
	case btfKindArray:
		elem, err := b.emit(b.bo.Uint32(extra[0:]), expand, depth+1)
		if err != nil {
			return nil, err
		}
		index, err := b.emit(b.bo.Uint32(extra[4:]), false, depth+1)
		if err != nil {
			return nil, err
		}
		typ = &btf.Array{Type: elem, Index: index, Nelems: b.bo.Uint32(extra[8:])}
	case btfKindStruct, btfKindUnion:
		return b.emitComposite(key, rec, name, extra, depth)
	case btfKindEnum, btfKindEnum64:
		e := &btf.Enum{Name: name, Size: rec.sizeTyp, Signed: rec.kindFlag()}
		step := 8
		if rec.kind() == btfKindEnum64 {
			step = 12
		}
		for i := range rec.vlen() {
			v := extra[i*step:]
			vn, err := b.name(b.bo.Uint32(v))
			if err != nil {
				return nil, err
			}
			val := uint64(b.bo.Uint32(v[4:]))
			if step == 12 {
				val |= uint64(b.bo.Uint32(v[8:])) << 32
			} else if e.Signed {
				val = uint64(int64(int32(val)))
			}
			e.Values = append(e.Values, btf.EnumValue{Name: vn, Value: val})
		}
		typ = e
	case btfKindFwd:
		kind := btf.FwdStruct
		if rec.kindFlag() {
			kind = btf.FwdUnion
		}
		typ = &btf.Fwd{Name: name, Kind: kind}
	case btfKindFuncProto:
		// Only reached through a pointer member (a callback): CO-RE only
		// checks that the member is a pointer.
		typ = &btf.FuncProto{Return: (*btf.Void)(nil)}
	default:
		return nil, fmt.Errorf("type %d: a member of kind %d", id, rec.kind())
	}
	b.done[key] = typ
	return typ, nil
}

// emitComposite emits a struct or union, expanded or as a stub.
func (b *rawBTF) emitComposite(key emitKey, rec btfRecord, name string, extra []byte, depth int) (btf.Type, error) {
	var members *[]btf.Member
	var typ btf.Type
	if rec.kind() == btfKindUnion {
		u := &btf.Union{Name: name, Size: rec.sizeTyp}
		members, typ = &u.Members, u
	} else {
		s := &btf.Struct{Name: name, Size: rec.sizeTyp}
		members, typ = &s.Members, s
	}
	b.done[key] = typ
	if !key.expand {
		return typ, nil
	}
	for i := range rec.vlen() {
		m := extra[i*12:]
		nameOff, mtype, off := b.bo.Uint32(m), b.bo.Uint32(m[4:]), b.bo.Uint32(m[8:])
		if nameOff != 0 && !b.memberAt[nameOff] {
			continue
		}
		mname, err := b.name(nameOff)
		if err != nil {
			return nil, err
		}
		mt, err := b.emit(mtype, true, depth+1)
		if err != nil {
			return nil, err
		}
		if nameOff == 0 && !hasMembers(mt) {
			continue // an anonymous member without a wanted member
		}
		member := btf.Member{Name: mname, Type: mt, Offset: btf.Bits(off)}
		if rec.kindFlag() {
			member.BitfieldSize = btf.Bits(off >> 24)
			member.Offset = btf.Bits(off & 0xffffff)
		} else if bits, shift, ok, err := b.legacyBitfield(mtype); err != nil {
			return nil, err
		} else if ok {
			member.Offset += shift
			member.BitfieldSize = bits
		}
		*members = append(*members, member)
	}
	return typ, nil
}

// legacyBitfield reports the bit size and offset of an int type that
// describes a bitfield (BTF before kind_flag).
func (b *rawBTF) legacyBitfield(id uint32) (bits, shift btf.Bits, ok bool, err error) {
	if id == 0 {
		return 0, 0, false, nil
	}
	rec, extra, err := b.record(id)
	if err != nil || rec.kind() != btfKindInt {
		return 0, 0, false, err
	}
	v := b.bo.Uint32(extra)
	bits, shift = btf.Bits(v&0xff), btf.Bits(v>>16&0xff)
	if shift == 0 && bits == btf.Bits(rec.sizeTyp*8) {
		return 0, 0, false, nil
	}
	return bits, shift, true, nil
}

// hasMembers reports whether t (through typedefs and qualifiers) is a
// struct or union with members.
func hasMembers(t btf.Type) bool {
	switch c := btf.UnderlyingType(t).(type) {
	case *btf.Struct:
		return len(c.Members) > 0
	case *btf.Union:
		return len(c.Members) > 0
	}
	return false
}
