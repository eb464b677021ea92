package sysinfo

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// lineReader reads lines of at most max bytes (newline included) from r,
// skipping and counting longer ones, so that memory stays bounded whatever
// the input. It is the I/O half of the parsers.
type lineReader struct {
	r       *bufio.Reader
	line    []byte // valid until the next call to next
	num     int    // 1-based number of the current line
	tooLong int    // lines skipped because they were longer than max
	err     error  // first read error other than io.EOF
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, max)}
}

// next advances to the next line, which it strips of its "\n" or "\r\n".
// It returns false at the end of the input or on a read error (see err).
func (l *lineReader) next() bool {
	for {
		b, err := l.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			l.num++
			l.tooLong++
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = l.r.ReadSlice('\n')
			}
			if err != nil {
				l.setErr(err)
				return false
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			l.setErr(err)
			return false
		}
		if len(b) == 0 {
			return false
		}
		l.num++
		b = bytes.TrimSuffix(b, []byte{'\n'})
		l.line = bytes.TrimSuffix(b, []byte{'\r'})
		return true
	}
}

func (l *lineReader) setErr(err error) {
	if !errors.Is(err, io.EOF) && l.err == nil {
		l.err = err
	}
}
