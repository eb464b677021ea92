package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// exeMapping is one read-only mapping of the executable, from
// /proc/self/maps.
type exeMapping struct {
	start, end uint64 // addresses, end exclusive
	offset     uint64 // offset in the file of start
	exec       bool   // code (r-x); otherwise data (r-- or rw-)
}

// parseExeMappings returns the private mappings of the file at path in
// the text of a /proc/<pid>/maps file, in their order: the code, the
// read-only data and the initialised data (rw-p: its pages the program
// wrote are anonymous copies, the others are still the file's). Shared
// mappings and lines it cannot read are left out.
func parseExeMappings(maps []byte, path string) []exeMapping {
	var out []exeMapping
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		// 00400000-00d1c000 r-xp 00000000 fe:00 1234    /path/to/exe
		// The path is the rest of the line: it may hold spaces, and
		// ends in " (deleted)" once the file is replaced.
		var f [5][]byte
		rest := sc.Bytes()
		for i := range f {
			f[i], rest, _ = bytes.Cut(bytes.TrimLeft(rest, " \t"), []byte(" "))
		}
		if string(bytes.TrimSpace(rest)) != path || len(f[1]) != 4 || f[1][0] != 'r' || f[1][3] != 'p' {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		off, err3 := strconv.ParseUint(string(f[2]), 16, 64)
		if err1 != nil || err2 != nil || err3 != nil || end <= start {
			continue
		}
		out = append(out, exeMapping{start: start, end: end, offset: off, exec: f[1][2] == 'x'})
	}
	return out
}

// pageOutRounds is how many times pageOutExecutable advises the mappings.
// The module's other threads keep running meanwhile, and a page one of
// them touches between the advice and the eviction keeps its neighbours
// cached (the kernel caches files in multi-page folios); a second and
// third round catch those.
const pageOutRounds = 3

// pageOutExecutable releases the resident pages of this executable's
// mappings (code, read-only data, and the initialised data's pages the
// program never wrote) and returns the mappings (for a last pageOut) and
// how many bytes of them it advised.
//
// Why: the kernel maps file pages in 64 KiB runs around each fault
// (fault-around) and reads ahead around each miss, and package
// initialisation and the first snapshots touch code and data all over the
// executable, so nearly all of it ends up resident (RssFile) although the
// running module uses a small part of it: the function tables the garbage
// collector reads to scan stacks (.gopclntab), the type data and strings
// (.rodata), and the code of a few dozen hot paths.
//
// How:
//   - every mapping is advised MADV_PAGEOUT (Linux 5.4+): its file pages
//     are unmapped and reclaimed unless another process maps them (the
//     initialised data's written pages are anonymous: they stay, or go
//     to swap where there is some);
//   - the data mappings are first advised MADV_RANDOM, so that a
//     later miss reads only the page asked for instead of a read-ahead
//     window, and after the page-out its part of the file is dropped from
//     the page cache (POSIX_FADV_DONTNEED: pages other processes map are
//     kept), so that fault-around finds no neighbours to map. What the
//     module reads again comes back a page at a time: it keeps about a
//     fifth of the data mapping resident instead of two thirds;
//   - the code mapping is only paged out: for executable mappings the
//     kernel (6.16+) reads ahead even under MADV_RANDOM, so dropping its
//     cache would only cost reads.
func pageOutExecutable() ([]exeMapping, int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, 0, fmt.Errorf("executable: %w", err)
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil, 0, fmt.Errorf("mappings: %w", err)
	}
	ms := parseExeMappings(maps, exe)
	if len(ms) == 0 {
		return nil, 0, fmt.Errorf("no private mapping of %s in /proc/self/maps", exe)
	}
	var errs []error
	// The page cache is dropped through a descriptor of the executable
	// (fadvise needs one; the mapping's own is not reachable).
	fd := -1
	file, err := os.Open("/proc/self/exe")
	if err != nil {
		errs = append(errs, fmt.Errorf("executable: %w", err))
	} else {
		fd = int(file.Fd())
	}
	for _, m := range ms {
		if !m.exec {
			if err := madvise(m, unix.MADV_RANDOM); err != nil {
				errs = append(errs, err)
			}
		}
	}
	var advised int64
	for round := range pageOutRounds {
		for _, m := range ms {
			if err := madvise(m, unix.MADV_PAGEOUT); err != nil {
				if round == 0 {
					errs = append(errs, err)
				}
				continue
			}
			if round == 0 {
				advised += int64(m.end - m.start)
			}
			if m.exec || fd < 0 {
				continue
			}
			if err := unix.Fadvise(fd, int64(m.offset), int64(m.end-m.start), unix.FADV_DONTNEED); err != nil && round == 0 {
				errs = append(errs, fmt.Errorf("fadvise %#x+%#x: %w", m.offset, m.end-m.start, err))
			}
		}
	}
	if file != nil {
		_ = file.Close() // read-only: nothing to flush
	}
	return ms, advised, errors.Join(errs...)
}

// pageOut advises the mappings MADV_PAGEOUT once more, ignoring errors
// (pageOutExecutable reported them). The caller runs it last in a
// release, after its logging and clean-up: their code (the logger, the
// file's close) is not on the module's steady path, and each page of code
// that runs after a page-out brings back its 64 KiB run for the next
// ten minutes. Only a raw system call and a loop run after the advice.
func pageOut(ms []exeMapping) {
	for _, m := range ms {
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), unix.MADV_PAGEOUT)
	}
}

// madvise advises the mapping m.
func madvise(m exeMapping, advice int) error {
	_, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), uintptr(advice))
	if e != 0 {
		return fmt.Errorf("madvise(%d) %#x-%#x: %w", advice, m.start, m.end, e)
	}
	return nil
}
