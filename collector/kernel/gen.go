package kernel

// The BPF object and its Go bindings are generated from bpf/events.c and
// committed, so that building needs no clang. scripts/bpf-check
// regenerates them and fails when they differ from the source.
//
// -mcpu=v3 (Linux >= 5.1; the ring buffer needs 5.8 anyway) for 32-bit
// jumps and bounded loops; bpfel is one object for every little-endian
// architecture (amd64, arm64, arm, …): the programs use no
// architecture-specific macros, CO-RE relocates the kernel types at load.
//go:generate go tool bpf2go -tags linux -cc clang -cflags "-O2 -mcpu=v3 -Wall -Werror" -target bpfel -go-package kernel events bpf/events.c
