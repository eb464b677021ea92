package baseline

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/edgesec/edgesec/internal/hostfs"
)

// MaxFileBytes bounds how much of one host file a check reads. Larger
// files are an error ([ErrFileTooLarge]), never a partial answer.
const MaxFileBytes = 4 << 20

// ErrFileTooLarge is returned by [HostFS.ReadFile] for files larger than
// MaxFileBytes.
var ErrFileTooLarge = errors.New("file too large")

// HostFS is a read-only view of the host's filesystem mounted at a root
// directory ("/" on the host, "/host" in a container). It implements
// [fs.FS], [fs.StatFS], [fs.ReadFileFS], [fs.ReadDirFS] and
// [fs.ReadLinkFS] with names relative to the root ("etc/ssh/sshd_config").
//
// Symbolic links are followed the way the host would follow them: an
// absolute target is taken relative to the root and ".." never climbs above
// it, so /host/etc/localtime -> /usr/share/zoneinfo/UTC stays inside /host.
// The FileInfo of Stat and Lstat carries a *syscall.Stat_t (owner, group).
//
// A HostFS is safe for concurrent use; it holds no open files.
type HostFS struct {
	root string
}

// NewHostFS returns the HostFS of the directory root ("" means "/").
func NewHostFS(root string) *HostFS {
	if root == "" {
		root = "/"
	}
	return &HostFS{root: filepath.Clean(root)}
}

// Root returns the directory the HostFS reads.
func (h *HostFS) Root() string { return h.root }

// resolve returns the real path of name, following every symbolic link
// inside the root; with final false the last component is not followed
// (Lstat, ReadLink).
func (h *HostFS) resolve(op, name string, final bool) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	p, err := hostfs.Resolve(h.root, name, final)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return "", &fs.PathError{Op: op, Path: name, Err: pe.Err}
	}
	return p, err
}

// Open implements [fs.FS].
func (h *HostFS) Open(name string) (fs.File, error) {
	p, err := h.resolve("open", name, true)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Stat implements [fs.StatFS]; it follows symbolic links.
func (h *HostFS) Stat(name string) (fs.FileInfo, error) {
	p, err := h.resolve("stat", name, true)
	if err != nil {
		return nil, err
	}
	return os.Stat(p)
}

// Lstat implements [fs.ReadLinkFS]; it does not follow a final symbolic link.
func (h *HostFS) Lstat(name string) (fs.FileInfo, error) {
	p, err := h.resolve("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return os.Lstat(p)
}

// ReadLink implements [fs.ReadLinkFS].
func (h *HostFS) ReadLink(name string) (string, error) {
	p, err := h.resolve("readlink", name, false)
	if err != nil {
		return "", err
	}
	return os.Readlink(p)
}

// ReadDir implements [fs.ReadDirFS]; entries are sorted by name.
func (h *HostFS) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := h.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	return os.ReadDir(p)
}

// ReadFile implements [fs.ReadFileFS]. It reads at most MaxFileBytes and
// returns an error wrapping ErrFileTooLarge for larger files.
func (h *HostFS) ReadFile(name string) ([]byte, error) {
	f, err := h.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readBounded(f, name)
}

func readBounded(r io.Reader, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileBytes {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("%w (more than %d bytes)", ErrFileTooLarge, MaxFileBytes)}
	}
	return b, nil
}

// rel turns a host path ("/etc/passwd") into an fs.FS name ("etc/passwd").
func rel(p string) string {
	p = path.Clean("/" + p)
	if p == "/" {
		return "."
	}
	return p[1:]
}
