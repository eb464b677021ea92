//go:build !((386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm) && linux)

package kernel

import (
	"errors"

	"github.com/cilium/ebpf"
)

// objectSpec reports that no BPF object was built for this platform (the
// committed object is little-endian).
func objectSpec() (*ebpf.CollectionSpec, error) {
	return nil, errors.New("no BPF object for this platform (big-endian or not Linux)")
}
