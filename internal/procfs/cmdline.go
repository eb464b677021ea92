package procfs

import (
	"bytes"
	"unicode/utf8"
	"unsafe"
)

// DefaultMaxCmdline is the command line cap used by [ReadProcess] when the
// caller passes 0: 4 KiB, which holds every ordinary command line while a
// fork bomb of 1 MB argvs stays cheap.
const DefaultMaxCmdline = 4096

// ParseCmdline turns the contents of /proc/<pid>/cmdline (arguments
// separated and terminated by NUL bytes) into one line: arguments joined
// by single spaces, at most max bytes (max <= 0 means no cap). Trailing NUL
// bytes are dropped. The result is valid UTF-8 (invalid bytes become
// U+FFFD, and a cut never splits a character); other bytes, newlines
// included, are kept. truncated reports that the input did not fit.
//
// A process that rewrote its argv area (setproctitle) may have no NUL
// separators at all; it is returned as it is.
func ParseCmdline(b []byte, max int) (cmdline string, truncated bool) {
	b = bytes.TrimRight(b, "\x00")
	if max > 0 && len(b) > max {
		b = b[:max]
		truncated = true
	}
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		c := b[0]
		if c < utf8.RuneSelf {
			if c == 0 {
				c = ' '
			}
			out = append(out, c)
			b = b[1:]
			continue
		}
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			if truncated && !utf8.FullRune(b) {
				// A character cut by the cap: drop its first bytes.
				break
			}
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	if max > 0 && len(out) > max {
		// U+FFFD replacements made it longer: cut again at a rune boundary.
		out = cutRunes(out, max)
		truncated = true
	}
	// out is not used after this: the string takes it over, saving a copy
	// (as strings.Builder does).
	return unsafe.String(unsafe.SliceData(out), len(out)), truncated
}

// cutRunes cuts valid UTF-8 b to at most max bytes at a rune boundary.
func cutRunes(b []byte, max int) []byte {
	if len(b) <= max {
		return b
	}
	i := max
	for i > 0 && !utf8.RuneStart(b[i]) {
		i--
	}
	return b[:i]
}
