package hostfs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// MaxLinks is how many symbolic links one resolution follows before it
// fails, as the kernel's limit (40) for one path lookup.
const MaxLinks = 40

// Resolve returns the path on this machine of the host path name inside
// root, following every symbolic link inside root; with final false a
// final symbolic link is not followed (for Lstat and Readlink). name is a
// slash-separated path, absolute ("/etc/passwd") or relative to root
// ("etc/passwd"). An absolute link target is taken relative to root and
// ".." stops at root. With root "/" (or "") it is filepath.Join("/", name).
//
// A component that does not exist, or cannot be examined, ends the
// resolution there: the rest of name is joined as it is, and the caller's
// open or stat reports the problem. A link loop is an *fs.PathError
// wrapping syscall.ELOOP.
func Resolve(root, name string, final bool) (string, error) {
	if root == "" || root == "/" {
		return filepath.Join("/", name), nil
	}
	root = filepath.Clean(root)
	links := 0
	done := "" // resolved part, relative to root: "" or "a/b"
	todo := strings.Split(name, "/")
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			done = parentOf(done)
			continue
		}
		next := c
		if done != "" {
			next = done + "/" + c
		}
		if !final && len(todo) == 0 {
			done = next
			break
		}
		full := filepath.Join(root, next)
		fi, err := os.Lstat(full)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			done = next // errors are left to the caller's open or stat
			continue
		}
		if links++; links > MaxLinks {
			return "", &fs.PathError{Op: "resolve", Path: name,
				Err: fmt.Errorf("too many symbolic links (more than %d): %w", MaxLinks, syscall.ELOOP)}
		}
		target, err := os.Readlink(full)
		if err != nil {
			return "", &fs.PathError{Op: "resolve", Path: name, Err: err}
		}
		if strings.HasPrefix(target, "/") {
			done = ""
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return filepath.Join(root, done), nil
}

// Open opens the host file name inside root for reading, resolving its
// symbolic links with Resolve.
func Open(root, name string) (*os.File, error) {
	p, err := Resolve(root, name, true)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

func parentOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}
