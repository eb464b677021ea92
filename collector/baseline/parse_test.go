package baseline_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector/baseline"
)

func TestParseMounts(t *testing.T) {
	ms := baseline.ParseMounts([]byte("tmpfs /tmp tmpfs rw,nosuid 0 0\nbad line\n/dev/sda1 /mnt/my\\040disk ext4 ro 0 0\ntmpfs /tmp tmpfs rw,noexec 0 0\n"))
	require.Len(t, ms, 3)
	require.Equal(t, "/mnt/my disk", ms[1].Point)
	m, ok := baseline.MountAt(ms, "/tmp")
	require.True(t, ok)
	require.True(t, m.Has("noexec"))
	require.False(t, m.Has("nosuid"), "the last mount on a point hides the earlier ones")
}

func TestParseModprobe(t *testing.T) {
	d := baseline.ParseModprobe([]byte("# c\ninstall freevxfs /bin/true # off\nblacklist hfs-plus\ninstall a \\\n  /bin/false\noptions x y=1\nblacklist\n"))
	require.Equal(t, []baseline.ModprobeDirective{
		{Kind: "install", Module: "freevxfs", Command: "/bin/true"},
		{Kind: "blacklist", Module: "hfs_plus"},
		{Kind: "install", Module: "a", Command: "/bin/false"},
	}, d)
}

func TestParsePAM(t *testing.T) {
	l := baseline.ParsePAM([]byte("password [success=1 default=ignore] pam_unix.so obscure sha512\n-password optional /lib/security/pam_gnome_keyring.so\n@include common-auth\nauth required\n"))
	require.Equal(t, []baseline.PAMLine{
		{Type: "password", Control: "[success=1 default=ignore]", Module: "pam_unix.so", Args: []string{"obscure", "sha512"}},
		{Type: "password", Control: "optional", Module: "pam_gnome_keyring.so", Args: []string{}},
	}, l)
}

func TestParseShadowKeepsNoHash(t *testing.T) {
	sp := baseline.ParseShadow([]byte("a:$y$j9T$salt$hash:1::::::\nb:!$6$x$y:1::::::\nc::1::::::\nd:*:1\ne:abJnggxhB/yWI:1\nf:$2b$10$abc\nbad\n"))
	require.Equal(t, []baseline.ShadowPassword{
		{Name: "a", State: "set", Algorithm: "yescrypt"},
		{Name: "b", State: "locked"},
		{Name: "c", State: "empty"},
		{Name: "d", State: "locked"},
		{Name: "e", State: "set", Algorithm: "des"},
		{Name: "f", State: "set", Algorithm: "bcrypt"},
	}, sp)
}

func TestParseSmallFormats(t *testing.T) {
	defs := baseline.ParseLoginDefs([]byte("# x\nUMASK 022\nUMASK\t027\nENCRYPT_METHOD \"SHA512\"\nFLAG\n"))
	require.Equal(t, map[string]string{"UMASK": "027", "ENCRYPT_METHOD": "SHA512", "FLAG": ""}, defs)
	ini := baseline.ParseINI([]byte("[Journal]\nStorage=auto\n[Other]\nStorage=none\n[Journal]\n Storage = persistent \n"), "Journal")
	require.Equal(t, map[string]string{"Storage": "persistent"}, ini)
	require.Equal(t, []baseline.Limit{{Domain: "*", Type: "hard", Item: "core", Value: "0"}},
		baseline.ParseLimits([]byte("*  hard core 0 # x\n@adm soft\n")))
	for s, want := range map[string]uint32{"027": 0o27, "0077": 0o77, "7": 7} {
		got, ok := baseline.ParseUmask(s)
		require.True(t, ok, s)
		require.Equal(t, want, got)
	}
	for _, s := range []string{"", "u=rwx", "0888", "12345"} {
		_, ok := baseline.ParseUmask(s)
		require.False(t, ok, s)
	}
	v, line, found := baseline.ConfigValue([]byte("# a=b\na = 1\nA=2\n"), "a", "=", true, false)
	require.True(t, found)
	require.Equal(t, "2", v)
	require.Equal(t, 3, line)
}

// The line parsers never crash and never return what is not in the input.
func FuzzParsers(f *testing.F) {
	f.Add([]byte("tmpfs /tmp tmpfs rw 0 0\ninstall cramfs /bin/false\npassword [x pam_unix.so\nroot:$6$a:1\nUMASK 022\n[Journal]\nStorage=auto\n* hard core 0\n"))
	f.Add([]byte("\\\n\\0\\777 \\04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range baseline.ParseMounts(data) {
			require.NotEmpty(t, m.Options)
		}
		for _, d := range baseline.ParseModprobe(data) {
			require.NotEmpty(t, d.Module)
		}
		for _, l := range baseline.ParsePAM(data) {
			require.NotEmpty(t, l.Module)
		}
		for _, s := range baseline.ParseShadow(data) {
			require.Contains(t, []string{"empty", "locked", "set"}, s.State)
		}
		baseline.ParseLoginDefs(data)
		baseline.ParseINI(data, "Journal")
		baseline.ParseLimits(data)
		baseline.ConfigValue(data, "k", "", true, true)
	})
}
