//go:build (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm) && linux

package kernel

import "github.com/cilium/ebpf"

// objectSpec parses the embedded BPF object.
func objectSpec() (*ebpf.CollectionSpec, error) { return loadEvents() }
