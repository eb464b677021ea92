package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// relocations lists the CO-RE relocations of a program's instructions.
func relocations(insns asm.Instructions) []*btf.CORERelocation {
	var relos []*btf.CORERelocation
	for iter := insns.Iterate(); iter.Next(); {
		if r := btf.CORERelocationMetadata(iter.Ins); r != nil {
			relos = append(relos, r)
		}
	}
	return relos
}

func noLocalTypeIDs(btf.Type) (btf.TypeID, error) {
	return 0, errors.New("no local type ID relocations expected")
}

// fixups relocates relos against target and formats the result.
func fixups(t *testing.T, relos []*btf.CORERelocation, target *btf.Spec) []string {
	t.Helper()
	fs, err := btf.CORERelocate(relos, []*btf.Spec{target}, binary.LittleEndian, noLocalTypeIDs)
	require.NoError(t, err)
	out := make([]string, len(fs))
	for i := range fs {
		out[i] = relos[i].String() + " => " + fs[i].String()
	}
	return out
}

// The running kernel's types read by kernelTypes relocate every program
// exactly as the whole kernel BTF does (what cilium/ebpf would otherwise
// parse).
func TestKernelTypesRelocateAsTheWholeBTF(t *testing.T) {
	if _, err := os.Stat(vmlinuxBTF); err != nil {
		if os.Getenv(requireEnv) != "" {
			t.Fatal(err)
		}
		t.Skipf("needs the kernel's BTF (%s): %v", vmlinuxBTF, err)
	}
	spec, err := objectSpec()
	require.NoError(t, err)
	w, err := localWanted(spec.Types)
	require.NoError(t, err)
	assert.True(t, w.types["task_struct"] && w.types["pt_regs"] && w.types["kernfs_node"], "flavours stripped: %v", w.types)
	assert.True(t, w.members["skc_daddr"], "members of anonymous members listed")
	min, err := loadKernelTypes(w)
	require.NoError(t, err)
	whole, err := btf.LoadKernelSpec()
	require.NoError(t, err)

	n := 0
	for range min.All() {
		n++
	}
	t.Logf("%d kernel types kept", n)
	assert.Less(t, n, 1000, "only the types the programs read")

	total := 0
	for name, p := range spec.Programs {
		relos := relocations(p.Instructions)
		total += len(relos)
		assert.Equal(t, fixups(t, relos, whole), fixups(t, relos, min), name)
	}
	assert.Greater(t, total, 20, "the programs have CO-RE relocations")
}

// fakeKernel is a kernel BTF in which the programs' types have another
// layout than bpf/vmlinux.h's, with members the programs do not read.
func fakeKernel(t testing.TB) []byte {
	t.Helper()
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	i32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	u64 := &btf.Int{Name: "long long unsigned int", Size: 8}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Char}
	pid := &btf.Typedef{Name: "pid_t", Type: i32}
	kuid := &btf.Typedef{Name: "kuid_t", Type: &btf.Struct{Size: 4, Members: []btf.Member{{Name: "val", Type: u32}}}}
	cred := &btf.Struct{Name: "cred", Size: 64, Members: []btf.Member{
		{Name: "usage", Type: u64},
		{Name: "uid", Type: kuid, Offset: 64},
		{Name: "euid", Type: kuid, Offset: 160},
	}}
	task := &btf.Struct{Name: "task_struct", Size: 4096}
	task.Members = []btf.Member{
		{Name: "state", Type: u64},
		{Name: "unrelated", Type: &btf.Struct{Name: "sched_entity", Size: 256}, Offset: 64},
		{Name: "pid", Type: pid, Offset: 9000 * 8},
		{Name: "tgid", Type: pid, Offset: 9004 * 8},
		{Name: "real_parent", Type: &btf.Pointer{Target: task}, Offset: 9008 * 8},
		{Name: "real_cred", Type: &btf.Pointer{Target: &btf.Const{Type: cred}}, Offset: 9016 * 8},
		{Name: "comm", Type: &btf.Array{Type: char, Index: u32, Nelems: 16}, Offset: 9024 * 8},
	}
	sockCommon := &btf.Struct{Name: "sock_common", Size: 136, Members: []btf.Member{
		{Type: &btf.Union{Size: 8, Members: []btf.Member{
			{Name: "skc_addrpair", Type: u64},
			{Type: &btf.Struct{Size: 8, Members: []btf.Member{
				{Name: "skc_daddr", Type: u32},
				{Name: "skc_rcv_saddr", Type: u32, Offset: 32},
			}}},
		}}},
		{Type: &btf.Union{Size: 4, Members: []btf.Member{{Name: "skc_hash", Type: u32}}}, Offset: 64},
	}}
	sock := &btf.Struct{Name: "sock", Size: 800, Members: []btf.Member{
		{Name: "__sk_common", Type: sockCommon},
		{Name: "sk_padding", Type: u32, Offset: 136 * 8, BitfieldSize: 1},
		{Name: "sk_userlocks", Type: u32, Offset: 136*8 + 1, BitfieldSize: 4},
	}}
	subsys := &btf.Enum{Name: "cgroup_subsys_id", Size: 4, Values: []btf.EnumValue{
		{Name: "cpuset_cgrp_id", Value: 0}, {Name: "memory_cgrp_id", Value: 7},
	}}
	b, err := btf.NewBuilder([]btf.Type{task, sock, subsys, &btf.Typedef{Name: "unrelated_t", Type: u64}}, nil)
	require.NoError(t, err)
	raw, err := b.Marshal(nil, nil)
	require.NoError(t, err)
	return raw
}

func TestKernelTypesFromAFixture(t *testing.T) {
	raw := fakeKernel(t)
	w := wantedTypes{
		types:   map[string]bool{"task_struct": true, "cred": true, "sock": true, "cgroup_subsys_id": true},
		members: map[string]bool{"pid": true, "real_parent": true, "real_cred": true, "uid": true, "val": true, "comm": true, "skc_daddr": true, "sk_userlocks": true, "__sk_common": true},
	}
	spec, err := kernelTypes(bytes.NewReader(raw), int64(len(raw)), w)
	require.NoError(t, err)

	var task *btf.Struct
	require.NoError(t, spec.TypeByName("task_struct", &task))
	assert.Equal(t, uint32(4096), task.Size)
	names := func(ms []btf.Member) (out []string) {
		for _, m := range ms {
			out = append(out, m.Name)
		}
		return out
	}
	assert.Equal(t, []string{"pid", "real_parent", "real_cred", "comm"}, names(task.Members), "only the wanted members")
	assert.Equal(t, btf.Bits(9000*8), task.Members[0].Offset)
	assert.Same(t, task, task.Members[1].Type.(*btf.Pointer).Target, "a pointer to a wanted type is the expanded type")
	cred := btf.UnderlyingType(task.Members[2].Type.(*btf.Pointer).Target).(*btf.Struct)
	assert.Equal(t, []string{"uid"}, names(cred.Members))
	kuid := btf.UnderlyingType(cred.Members[0].Type).(*btf.Struct)
	assert.Equal(t, []string{"val"}, names(kuid.Members), "a member held by value is expanded")

	var sock *btf.Struct
	require.NoError(t, spec.TypeByName("sock", &sock))
	assert.Equal(t, []string{"__sk_common", "sk_userlocks"}, names(sock.Members))
	assert.Equal(t, btf.Bits(4), sock.Members[1].BitfieldSize)
	assert.Equal(t, btf.Bits(136*8+1), sock.Members[1].Offset)
	common := sock.Members[0].Type.(*btf.Struct)
	require.Len(t, common.Members, 1, "the anonymous union without a wanted member is dropped")
	inner := common.Members[0].Type.(*btf.Union)
	require.Len(t, inner.Members, 1)
	pair := inner.Members[0].Type.(*btf.Struct)
	assert.Equal(t, []string{"skc_daddr"}, names(pair.Members))

	var e *btf.Enum
	require.NoError(t, spec.TypeByName("cgroup_subsys_id", &e))
	assert.Len(t, e.Values, 2, "enums are kept whole")

	var td *btf.Typedef
	assert.Error(t, spec.TypeByName("unrelated_t", &td), "types the programs do not name are left out")
}

func TestKernelTypesRefusesBadInput(t *testing.T) {
	raw := fakeKernel(t)
	w := wantedTypes{types: map[string]bool{"task_struct": true}, members: map[string]bool{"pid": true}}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"not BTF":   []byte("\x7fELF" + string(make([]byte, 40))),
		"truncated": raw[:len(raw)/2],
		"no wanted type": func() []byte {
			b, err := btf.NewBuilder([]btf.Type{&btf.Int{Name: "int", Size: 4}}, nil)
			require.NoError(t, err)
			out, err := b.Marshal(nil, nil)
			require.NoError(t, err)
			return out
		}(),
	} {
		_, err := kernelTypes(bytes.NewReader(b), int64(len(b)), w)
		assert.Error(t, err, name)
	}
}

func FuzzKernelTypes(f *testing.F) {
	raw := fakeKernel(f)
	f.Add(raw)
	f.Add(raw[:len(raw)-7])
	bad := slices.Clone(raw)
	bad[30] ^= 0xff
	f.Add(bad)
	w := wantedTypes{
		types:   map[string]bool{"task_struct": true, "sock": true, "cgroup_subsys_id": true},
		members: map[string]bool{"pid": true, "real_parent": true, "skc_daddr": true, "__sk_common": true, "sk_userlocks": true},
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		spec, err := kernelTypes(bytes.NewReader(b), int64(len(b)), w)
		if err == nil && spec == nil {
			t.Fatal("no spec and no error")
		}
	})
}
