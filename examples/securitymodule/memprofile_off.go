//go:build !memprofile

package main

import "io"

// heapProfile is nil: the default build has no heap profiler (see
// memprofile.go); the memory report then has no .pprof file.
var heapProfile func(io.Writer) error
