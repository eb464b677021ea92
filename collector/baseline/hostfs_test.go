package baseline_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector/baseline"
)

// Absolute links and ".." resolve inside the host root, never in the
// module's own filesystem.
func TestHostFSStaysInRoot(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "usr/share"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "usr/share/marker"), []byte("inside"), 0o644))
	require.NoError(t, os.Symlink("/usr/share/marker", filepath.Join(root, "etc/abs")))
	require.NoError(t, os.Symlink("../../../../../../usr/share/marker", filepath.Join(root, "etc/climb")))
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(root, "etc/passwd-link"))) // the module's own /etc/passwd must not be read
	require.NoError(t, os.Symlink("loop", filepath.Join(root, "etc/loop")))

	h := baseline.NewHostFS(root)
	for _, name := range []string{"etc/abs", "etc/climb"} {
		b, err := h.ReadFile(name)
		require.NoError(t, err, name)
		require.Equal(t, "inside", string(b))
	}
	_, err := h.ReadFile("etc/passwd-link")
	require.ErrorIs(t, err, fs.ErrNotExist)
	_, err = h.ReadFile("etc/loop")
	require.ErrorContains(t, err, "too many levels of symbolic links")
	_, err = h.Open("/etc/abs")
	require.ErrorIs(t, err, fs.ErrInvalid)

	fi, err := h.Lstat("etc/abs")
	require.NoError(t, err)
	require.NotZero(t, fi.Mode()&fs.ModeSymlink)
	target, err := h.ReadLink("etc/abs")
	require.NoError(t, err)
	require.Equal(t, "/usr/share/marker", target)
}

func TestSysctlWithoutProc(t *testing.T) {
	h := baseline.NewHost(context.Background(), baseline.NewHostFS("testdata/hostroot-broken"), baseline.WalkLimits{})
	_, err := h.Sysctl("kernel.randomize_va_space")
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, "the host's /proc is not mounted under the host root")
}

func TestReadFileBounded(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "big"), make([]byte, baseline.MaxFileBytes+1), 0o644))
	_, err := baseline.NewHostFS(root).ReadFile("big")
	require.ErrorIs(t, err, baseline.ErrFileTooLarge)
}
