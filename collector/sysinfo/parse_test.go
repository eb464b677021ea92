package sysinfo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

func TestParseOSRelease(t *testing.T) {
	in := `# comment
  # indented comment

NAME="Debian GNU/Linux"
ID=debian
PRETTY_NAME='Single $quoted "value"'
ESCAPES="a\"b\\c\$d\` + "`" + `e\nf"
UNQUOTED=foo\ bar
CONCAT="ab"'cd'ef
COMMENTED=value # trailing comment
HASH=a#b
SPACES = no
TRAILING="x"   
EMPTY=
EMPTYQ=""
	INDENTED=yes
ID=override
UTF8="Ünïcödé"
`
	got, err := ParseOSRelease(strings.NewReader(in))
	require.Equal(t, map[string]string{
		"NAME":        "Debian GNU/Linux",
		"ID":          "override",
		"PRETTY_NAME": `Single $quoted "value"`,
		"ESCAPES":     "a\"b\\c$d`e\\nf",
		"UNQUOTED":    "foo bar",
		"CONCAT":      "abcdef",
		"COMMENTED":   "value",
		"HASH":        "a#b",
		"TRAILING":    "x",
		"EMPTY":       "",
		"EMPTYQ":      "",
		"INDENTED":    "yes",
		"UTF8":        "Ünïcödé",
	}, got)
	// "SPACES = no" has an invalid key ("SPACES ").
	require.EqualError(t, err, "os-release: 1 malformed line(s) skipped (first: line 12: invalid key)")
}

func TestParseOSReleaseMalformed(t *testing.T) {
	in := "A=\"open\nB='open\nC\n=novalue\n9A=x\nOK=1\r\n"
	got, err := ParseOSRelease(strings.NewReader(in))
	require.Equal(t, map[string]string{"OK": "1"}, got)
	require.EqualError(t, err, "os-release: 5 malformed line(s) skipped (first: line 1: unterminated quote)")

	var b strings.Builder
	for i := range MaxKeys + 10 {
		fmt.Fprintf(&b, "K%d=v\n", i)
	}
	fmt.Fprintf(&b, "K0=again\n") // an existing key may still be updated
	got, err = ParseOSRelease(strings.NewReader(b.String()))
	require.Len(t, got, MaxKeys)
	require.Equal(t, "again", got["K0"])
	require.EqualError(t, err, "os-release: 10 key(s) beyond the limit of 1024 dropped")

	boom := errors.New("boom")
	got, err = ParseOSRelease(io.MultiReader(strings.NewReader("ID=x\n"), iotest.ErrReader(boom)))
	require.Equal(t, map[string]string{"ID": "x"}, got)
	require.ErrorIs(t, err, boom)
}

func TestParseMeminfo(t *testing.T) {
	in := "MemTotal:        8137660 kB\n" +
		"Active(anon):    2000000 kB\n" +
		"HugePages_Total:       0\n" +
		"\n" +
		"Broken\n" +
		"Neg: -1 kB\n" +
		"Unit: 5 MB\n" +
		"Big: 99999999999999999999 kB\n" +
		"Too: 1 kB extra\n" +
		": 5 kB\n" +
		"SwapFree:        1 kB"
	got, err := ParseMeminfo(strings.NewReader(in))
	require.Equal(t, map[string]int64{"MemTotal": 8137660, "Active(anon)": 2000000, "HugePages_Total": 0, "SwapFree": 1}, got)
	require.EqualError(t, err, "meminfo: 6 malformed line(s) skipped (first: line 5: want name: value)")

	got, err = ParseMeminfo(strings.NewReader(""))
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestParseHelpers(t *testing.T) {
	bt, ok := parseBootTime(strings.NewReader("cpu 1 2\nbtime 1717236000\n"))
	require.True(t, ok)
	require.Equal(t, int64(1717236000), bt)
	_, ok = parseBootTime(strings.NewReader("btime -5\n"))
	require.False(t, ok)

	up, ok := parseUptime([]byte("350735.47 234388.90\n"))
	require.True(t, ok)
	require.Equal(t, int64(350735), up)
	for _, bad := range []string{"", "x", "-1", "NaN", "1e300"} {
		_, ok = parseUptime([]byte(bad))
		require.False(t, ok, bad)
	}

	require.Equal(t, "/dev/mmcblk0p2", parseCmdlineRoot([]byte("console=tty1 root=/dev/mmcblk0p2 rootwait")))
	require.Equal(t, "UUID=ab-cd", parseCmdlineRoot([]byte(`root="UUID=ab-cd" ro`)))
	require.Equal(t, "/dev/b", parseCmdlineRoot([]byte("root=/dev/a root=/dev/b -- root=/dev/init")))
	require.Equal(t, "", parseCmdlineRoot([]byte("quiet rootwait")))

	require.Equal(t, `a b\c`, unescapeMount(`a\040b\134c`))
	require.Equal(t, `trail\04`, unescapeMount(`trail\04`))
	require.Equal(t, `\999`, unescapeMount(`\999`))

	m, ok := parseRootMount(strings.NewReader("rootfs / rootfs rw 0 0\n/dev/sda2 / btrfs rw 0 0\n/dev/sda1 /boot vfat rw 0 0\n"))
	require.True(t, ok)
	require.Equal(t, rootMount{device: "/dev/sda2", fstype: "btrfs"}, m)

	ci := parseCPUInfo(strings.NewReader("processor : 0\nuarch : sifive,u74-mc\nisa : rv64imafdc\nprocessor : 1\n"))
	require.Equal(t, cpuInfo{model: "sifive,u74-mc", count: 2}, ci)
	ci = parseCPUInfo(strings.NewReader("processor : 0\nisa : rv64imafdc\n"))
	require.Equal(t, cpuInfo{model: "rv64imafdc", count: 1}, ci)
	ci = parseCPUInfo(strings.NewReader("Processor : ARMv7 Processor rev 4 (v7l)\nprocessor : 0\nHardware : BCM2835\n"))
	require.Equal(t, cpuInfo{model: "ARMv7 Processor rev 4 (v7l)", board: "BCM2835", count: 1}, ci)
	ci = parseCPUInfo(strings.NewReader("system type : MediaTek MT7621\nprocessor : 0\ncpu model : MIPS 1004Kc V2.15\n"))
	require.Equal(t, cpuInfo{model: "MIPS 1004Kc V2.15", count: 1}, ci)

	pk := parseDpkgStatus(strings.NewReader("Package: aziot-edge\nStatus: install ok unpacked\nVersion: 1\n\nPackage: x\nVersion: 2\nStatus: install ok installed\n"),
		map[string]bool{"aziot-edge": true, "x": true})
	require.Equal(t, map[string]string{"x": "2"}, pk)
}

func seeds(f *testing.F, rels ...string) {
	f.Helper()
	for _, root := range []string{"hostroot-debian", "hostroot-alpine", "hostroot-broken"} {
		for _, rel := range rels {
			b, err := os.ReadFile(filepath.Join("testdata", root, rel))
			if err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(""))
	f.Add([]byte("\n\r\n#\n"))
}

func FuzzParseOSRelease(f *testing.F) {
	seeds(f, "etc/os-release", "usr/lib/os-release")
	f.Add([]byte(`A="x\"y"'z'\ w # c` + "\nB='\nC=\"\\"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseOSRelease(bytes.NewReader(data))
		if len(got) > MaxKeys {
			t.Fatalf("%d keys", len(got))
		}
		for k, v := range got {
			if !validKey(k) || len(v) > len(data) {
				t.Fatalf("bad pair %q=%q", k, v)
			}
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
		// A well-formed file written back in quoted form parses to the same.
		if err == nil {
			var b strings.Builder
			for k, v := range got {
				if strings.ContainsAny(v, "\n\r") {
					return
				}
				b.WriteString(k + "=\"" + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`").Replace(v) + "\"\n")
			}
			again, err := ParseOSRelease(strings.NewReader(b.String()))
			if err != nil || len(again) != len(got) {
				t.Fatalf("round trip: %v, %v vs %v", err, again, got)
			}
			for k, v := range got {
				if again[k] != v {
					t.Fatalf("round trip %s: %q != %q", k, again[k], v)
				}
			}
		}
	})
}

func FuzzParseMeminfo(f *testing.F) {
	seeds(f, "proc/meminfo")
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseMeminfo(bytes.NewReader(data))
		if len(got) > MaxKeys {
			t.Fatalf("%d keys", len(got))
		}
		for k, v := range got {
			if k == "" || v < 0 {
				t.Fatalf("bad pair %q=%d", k, v)
			}
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}

// FuzzParseProcFiles runs the small /proc parsers, which take the same
// untrusted input, on arbitrary bytes.
func FuzzParseProcFiles(f *testing.F) {
	seeds(f, "proc/stat", "proc/uptime", "proc/mounts", "proc/cmdline", "proc/cpuinfo", "var/lib/dpkg/status")
	f.Fuzz(func(t *testing.T, data []byte) {
		if bt, ok := parseBootTime(bytes.NewReader(data)); ok && bt <= 0 {
			t.Fatalf("btime %d", bt)
		}
		if up, ok := parseUptime(data); ok && up < 0 {
			t.Fatalf("uptime %d", up)
		}
		_, _ = parseRootMount(bytes.NewReader(data))
		_ = parseCmdlineRoot(data)
		if ci := parseCPUInfo(bytes.NewReader(data)); ci.count < 0 {
			t.Fatal("negative count")
		}
		_ = parseDpkgStatus(bytes.NewReader(data), edgePackages)
		_ = unescapeMount(string(data))
	})
}
