package lines

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Reader reads lines of at most max bytes (newline included), skipping
// and counting longer ones. It is not safe for concurrent use.
type Reader struct {
	r       *bufio.Reader
	line    []byte
	num     int
	tooLong int
	err     error
}

// NewReader returns a Reader of r whose lines hold at most max bytes,
// newline included (at least 16, bufio's smallest buffer).
func NewReader(r io.Reader, max int) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, max)}
}

// Next advances to the next line, which it strips of its "\n" or "\r\n".
// It returns false at the end of the input or on a read error (see Err).
func (l *Reader) Next() bool {
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

// Line returns the current line, without its line ending. It is valid
// until the next call to Next.
func (l *Reader) Line() []byte { return l.line }

// Num returns the 1-based number of the current line, counting skipped
// lines.
func (l *Reader) Num() int { return l.num }

// TooLong returns how many lines were skipped because they were longer
// than the limit.
func (l *Reader) TooLong() int { return l.tooLong }

// Err returns the first read error other than io.EOF.
func (l *Reader) Err() error { return l.err }

func (l *Reader) setErr(err error) {
	if !errors.Is(err, io.EOF) && l.err == nil {
		l.err = err
	}
}
