package procfs

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Limits of [ParsePasswd].
const (
	// MaxPasswdLineBytes is the longest /etc/passwd line read; longer
	// lines are skipped.
	MaxPasswdLineBytes = 64 << 10
	// MaxPasswdEntries is the most accounts kept.
	MaxPasswdEntries = 100000
)

// ParsePasswd reads uid → user name from /etc/passwd contents. Comments,
// NIS entries and malformed lines are skipped, as are lines longer than
// [MaxPasswdLineBytes]; at most [MaxPasswdEntries] are kept. The first
// entry of a uid wins, as getpwuid(3) does.
func ParsePasswd(r io.Reader) (map[uint32]string, error) {
	names := make(map[uint32]string)
	br := bufio.NewReaderSize(r, MaxPasswdLineBytes)
	for len(names) < MaxPasswdEntries {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil {
				return names, eofNil(err)
			}
			continue
		}
		if len(line) > 0 {
			addPasswdLine(names, bytes.TrimRight(line, "\r\n"))
		}
		if err != nil {
			return names, eofNil(err)
		}
	}
	return names, nil
}

func eofNil(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func addPasswdLine(names map[uint32]string, line []byte) {
	if len(line) == 0 || line[0] == '#' || line[0] == '+' || line[0] == '-' {
		return
	}
	f := bytes.SplitN(line, []byte{':'}, 4)
	if len(f) < 4 || len(f[0]) == 0 {
		return
	}
	uid, err := strconv.ParseUint(string(f[2]), 10, 32)
	if err != nil {
		return
	}
	if _, dup := names[uint32(uid)]; !dup {
		names[uint32(uid)] = validString(f[0])
	}
}

// UserCache maps uids to user names from <root>/etc/passwd, reloading the
// file when it changes (checked at most once per Refresh interval). It is
// safe for concurrent use.
type UserCache struct {
	path    string
	refresh time.Duration

	mu      sync.Mutex
	names   map[uint32]string
	checked time.Time
	modTime time.Time
	size    int64
	ino     uint64
	err     error
}

// NewUserCache returns a cache reading <root>/etc/passwd, re-checking the
// file at most every refresh (0 means 5 s).
func NewUserCache(root string, refresh time.Duration) *UserCache {
	if refresh <= 0 {
		refresh = 5 * time.Second
	}
	return &UserCache{path: filepath.Join(root, "etc", "passwd"), refresh: refresh}
}

// Name returns the user name of uid, or "" when it is unknown.
func (c *UserCache) Name(uid uint32) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maybeReloadLocked()
	return c.names[uid]
}

// Err returns the error of the last load of /etc/passwd, if any.
func (c *UserCache) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maybeReloadLocked()
	return c.err
}

func (c *UserCache) maybeReloadLocked() {
	now := time.Now()
	if !c.checked.IsZero() && now.Sub(c.checked) < c.refresh {
		return
	}
	c.checked = now
	fi, err := os.Stat(c.path)
	if err != nil {
		c.names, c.err = nil, err
		c.modTime, c.size, c.ino = time.Time{}, 0, 0
		return
	}
	ino := inode(fi)
	if c.names != nil && fi.ModTime().Equal(c.modTime) && fi.Size() == c.size && ino == c.ino {
		return
	}
	f, err := os.Open(c.path)
	if err != nil {
		c.names, c.err = nil, err
		return
	}
	defer f.Close()
	names, err := ParsePasswd(f)
	c.names, c.err = names, err
	c.modTime, c.size, c.ino = fi.ModTime(), fi.Size(), ino
}
