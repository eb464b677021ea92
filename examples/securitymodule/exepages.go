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
	writable   bool   // rw-: the initialised data
	// modified: the mapping holds anonymous pages although it is not
	// writable: a debugger's breakpoints or a uprobe, which only
	// MADV_PAGEOUT keeps (MADV_DONTNEED would discard them).
	modified bool
	advice   int // what the last pass of a release advises (pageOut)
}

// parseExeMappings returns the private mappings of the file at path in
// the text of a /proc/<pid>/smaps (or maps) file, in their order: the
// code, the read-only data and the initialised data (rw-p: its pages the
// program wrote are anonymous copies, the others are still the file's).
// Shared mappings and lines it cannot read are left out.
func parseExeMappings(smaps []byte, path string) []exeMapping {
	var out []exeMapping
	in := false // the lines that follow describe a mapping in out
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		line := sc.Bytes()
		// smaps: after each header line, "Name:   value kB" lines.
		if in {
			if v, ok := bytes.CutPrefix(line, []byte("Anonymous:")); ok {
				m := &out[len(out)-1]
				m.modified = !m.writable && string(bytes.TrimSpace(v)) != "0 kB"
				continue
			}
			if k, _, ok := bytes.Cut(line, []byte(":")); ok && !bytes.ContainsAny(k, " -") {
				continue
			}
		}
		in = false
		// 00400000-00d1c000 r-xp 00000000 fe:00 1234    /path/to/exe
		// The path is the rest of the line: it may hold spaces, and
		// ends in " (deleted)" once the file is replaced.
		var f [5][]byte
		rest := line
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
		out = append(out, exeMapping{start: start, end: end, offset: off, exec: f[1][2] == 'x', writable: f[1][1] == 'w'})
		in = true
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
// mappings and returns the mappings (for a last pageOut) and how many
// bytes of them it advised.
//
// Why: the kernel maps file pages in 64 KiB runs around each fault
// (fault-around) and reads ahead around each miss, and package
// initialisation and the first snapshots touch code and data all over the
// executable, so nearly all of it ends up resident (RssFile) although the
// running module uses a small part of it: the function tables the garbage
// collector reads to scan stacks (.gopclntab), the type data and strings
// (.rodata), and the code of a few dozen hot paths. Later, paths that run
// once in a while (a garbage collection scanning every stack, a message
// sent, a reconnection) bring theirs back, and they stay until the next
// release.
//
// A release that drops (dropCache, at start-up and every ten minutes)
// gives the pages back to the system:
//   - every mapping is advised MADV_PAGEOUT (Linux 5.4+): its file pages
//     are unmapped and evicted from the page cache unless another process
//     maps them (the initialised data's written pages are anonymous: they
//     stay, or go to swap where there is some);
//   - the data mappings are first advised MADV_RANDOM, so that a later
//     miss reads only the page asked for instead of a read-ahead window,
//     and after the page-out their part of the file is dropped from the
//     page cache (POSIX_FADV_DONTNEED; pages other processes map are
//     kept), so that fault-around finds no neighbours to map: what the
//     module reads again comes back a page at a time. The code mapping is
//     only paged out: for executable mappings the kernel (6.16+) reads
//     ahead even under MADV_RANDOM.
//
// What is touched again is read back from storage. The other releases
// (every minute) only unmap: the code and the read-only data are advised
// MADV_DONTNEED, which for a read-only private mapping drops the process's
// page table entries and leaves the pages in the page cache, so touching
// them again costs a minor fault and no I/O. A read-only mapping that
// holds anonymous pages (a debugger's breakpoint, a uprobe) is paged out
// instead, which keeps them; the initialised data is left alone.
func pageOutExecutable(dropCache bool) ([]exeMapping, int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, 0, fmt.Errorf("executable: %w", err)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return nil, 0, fmt.Errorf("mappings: %w", err)
	}
	ms := parseExeMappings(smaps, exe)
	if len(ms) == 0 {
		return nil, 0, fmt.Errorf("no private mapping of %s in /proc/self/smaps", exe)
	}
	for i := range ms {
		m := &ms[i]
		switch {
		case dropCache || m.modified:
			m.advice = unix.MADV_PAGEOUT
		case m.writable:
			m.advice = -1 // left alone
		default:
			m.advice = unix.MADV_DONTNEED
		}
	}
	var errs []error
	// The page cache is dropped through a descriptor of the executable
	// (fadvise needs one; the mapping's own is not reachable).
	fd, rounds := -1, 1
	var file *os.File
	if dropCache {
		if file, err = os.Open("/proc/self/exe"); err != nil {
			errs = append(errs, fmt.Errorf("executable: %w", err))
		} else {
			fd, rounds = int(file.Fd()), pageOutRounds
		}
		for _, m := range ms {
			if !m.exec {
				if err := madvise(m, unix.MADV_RANDOM); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	var advised int64
	for round := range rounds {
		for _, m := range ms {
			if m.advice < 0 {
				continue
			}
			if err := madvise(m, m.advice); err != nil {
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

// pageOut gives the mappings their advice once more, ignoring errors
// (pageOutExecutable reported them). The caller runs it last in a
// release, after its logging and clean-up: their code (the logger, the
// file's close) is not on the module's steady path, and each page of code
// that runs after the advice comes back until the next release (with its
// 64 KiB run where the kernel still faults around: see faultaround.go).
// Only a raw system call and a loop run after the advice.
func pageOut(ms []exeMapping) {
	for _, m := range ms {
		if m.advice >= 0 {
			_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), uintptr(m.advice))
		}
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
