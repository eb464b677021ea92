package sysinfo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/hostfs"
)

var fixedNow = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

func newTestPoller(root string, u utsname) *Poller {
	p := New(Options{HostRoot: root})
	p.now = func() time.Time { return fixedNow }
	p.uname = func() (utsname, error) { return u, nil }
	return p
}

func pollOne(t *testing.T, p *Poller) (*event.SystemInformationPayload, error) {
	t.Helper()
	evs, err := p.Poll(context.Background())
	require.Len(t, evs, 1)
	ev := evs[0]
	require.Equal(t, event.SystemInformation, ev.Name)
	require.Equal(t, event.Periodic, ev.Category)
	require.Equal(t, event.Security, ev.Type)
	require.Equal(t, fixedNow, ev.Time)
	require.True(t, event.ValidID(ev.ID))
	require.Len(t, ev.Payload, 1)
	return ev.Payload[0].(*event.SystemInformationPayload), err
}

func TestPollDebian(t *testing.T) {
	p := newTestPoller("testdata/hostroot-debian", utsname{
		machine: "x86_64", nodename: "container-abc", release: "6.1.0-21-cloud-amd64",
		version: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.90-1 (2024-05-03)",
	})
	si, err := pollOne(t, p)
	require.NoError(t, err)
	require.Equal(t, &event.SystemInformationPayload{
		OSName:                  "Debian GNU/Linux",
		OSVersion:               "12",
		OSVendor:                "debian",
		OSArchitecture:          "x86_64",
		HostName:                "edge-gw-01",
		BIOSVersion:             "Hyper-V UEFI Release v4.1",
		BootDevice:              "/dev/sda1",
		TotalPhysicalMemoryInKB: 8137660,
		FreePhysicalMemoryInKB:  5422100,
		TotalVirtualMemoryInKB:  8137660 + 2097148,
		FreeVirtualMemoryInKB:   5422100 + 2000000,
		ExtraDetails: event.ExtraDetails{
			KeyOSPrettyName:   "Debian GNU/Linux 12 (bookworm)",
			KeyOSVersionFull:  "12 (bookworm)",
			KeyKernelRelease:  "6.1.0-21-cloud-amd64",
			KeyKernelVersion:  "#1 SMP PREEMPT_DYNAMIC Debian 6.1.90-1 (2024-05-03)",
			KeyBootTimeUTC:    "2024-06-01T10:00:00Z",
			KeyUptimeSeconds:  "1234567",
			KeyCPUModel:       "Intel(R) Xeon(R) CPU E5-2673 v4 @ 2.30GHz",
			KeyCPUCount:       "2",
			KeySysVendor:      "Microsoft Corporation",
			KeyProductName:    "Virtual Machine",
			KeyBoardName:      "Virtual Machine",
			KeyBIOSVendor:     "Microsoft Corporation",
			KeyBIOSDate:       "04/06/2022",
			KeyProductUUID:    "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9",
			KeyMachineID:      "4f3b8c9d2e1a4b5c8d7e6f5a4b3c2d1e",
			KeyIoTEdgeVersion: "1.4.20-1",
			KeyIdentityVer:    "1.4.7-1",
			KeyMobyVersion:    "20.10.25+azure-1",
		},
	}, si)
}

func TestPollAlpineRaspberryPi(t *testing.T) {
	// etc/os-release is an absolute symlink, resolved inside the root; no
	// etc/hostname (uname's node name is used); no proc/uptime (computed
	// from btime); /dev/root in the mount table (root= is used); no DMI
	// (the device-tree model is used); machine-id from var/lib/dbus.
	p := newTestPoller("testdata/hostroot-alpine", utsname{
		machine: "aarch64", nodename: "pi-gateway", release: "6.6.31-0-rpi", version: "#1-Alpine SMP PREEMPT",
	})
	si, err := pollOne(t, p)
	require.NoError(t, err)
	require.Equal(t, &event.SystemInformationPayload{
		OSName:                  "Alpine Linux",
		OSVersion:               "3.19.1",
		OSVendor:                "alpine",
		OSArchitecture:          "aarch64",
		HostName:                "pi-gateway",
		BootDevice:              "/dev/mmcblk0p2",
		TotalPhysicalMemoryInKB: 3885396,
		FreePhysicalMemoryInKB:  3500000,
		TotalVirtualMemoryInKB:  3885396,
		FreeVirtualMemoryInKB:   3500000,
		ExtraDetails: event.ExtraDetails{
			KeyOSPrettyName:  "Alpine Linux v3.19",
			KeyKernelRelease: "6.6.31-0-rpi",
			KeyKernelVersion: "#1-Alpine SMP PREEMPT",
			KeyBootTimeUTC:   "2023-11-14T22:13:20Z",
			KeyUptimeSeconds: strconv.FormatInt(fixedNow.Unix()-1700000000, 10),
			KeyCPUCount:      "4",
			KeyHardwareModel: "Raspberry Pi 4 Model B Rev 1.4",
			KeyMachineID:     "0123456789abcdef0123456789abcdef",
		},
	}, si)
}

func TestPollBroken(t *testing.T) {
	p := newTestPoller("testdata/hostroot-broken", utsname{machine: "armv7l", nodename: "fallback"})
	si, err := pollOne(t, p)
	require.Equal(t, &event.SystemInformationPayload{
		OSVendor:       "ok",
		OSArchitecture: "armv7l",
		HostName:       "fallback",
		BIOSVersion:    strings.Repeat("A", maxValue),
		ExtraDetails:   event.ExtraDetails{},
	}, si)
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, "sysinfo: os-release: 6 malformed line(s) skipped (first: line 1: unterminated quote); 1 line(s) longer than 65536 bytes skipped")
	require.Contains(t, msg, "sysinfo: meminfo: 5 malformed line(s) skipped (first: line 1: value is not a non-negative integer)")
	require.Contains(t, msg, filepath.Join("testdata/hostroot-broken", "proc/meminfo")+" has no MemTotal")
	require.Len(t, strings.Split(msg, "\n"), 3)
}

func TestPollEmptyRoot(t *testing.T) {
	p := newTestPoller(t.TempDir(), utsname{machine: "riscv64", nodename: "n", release: "r", version: "v"})
	si, err := pollOne(t, p)
	require.Equal(t, &event.SystemInformationPayload{
		OSArchitecture: "riscv64",
		HostName:       "n",
		ExtraDetails:   event.ExtraDetails{KeyKernelRelease: "r", KeyKernelVersion: "v"},
	}, si)
	// Only the files every host has are reported.
	require.ErrorIs(t, err, os.ErrNotExist)
	msg := err.Error()
	require.Contains(t, msg, "sysinfo: os-release:")
	require.Contains(t, msg, "sysinfo: meminfo:")
	require.NotContains(t, msg, "dmi")
	require.NotContains(t, msg, "cpuinfo")
}

func TestPollFallbacks(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(rel)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, rel), []byte(content), 0o644))
	}
	// os-release only in usr/lib, VERSION without VERSION_ID, a kernel
	// without MemAvailable, an overlay root with no root= on the command
	// line, an old iotedge 1.1, a POWER cpuinfo.
	write("usr/lib/os-release", "NAME=Custom\nVERSION='1.0 LTS'\nID=custom\nID_LIKE=\"debian ubuntu\"\n")
	write("proc/meminfo", "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\nCached: 200 kB\n")
	write("proc/mounts", "overlay / overlay rw 0 0\n")
	write("proc/cmdline", "quiet\n")
	write("proc/cpuinfo", "processor\t: 0\ncpu\t\t: POWER9 (raw), altivec supported\nprocessor\t: 1\n")
	write("var/lib/dpkg/status", "Package: iotedge\nStatus: install ok installed\nVersion: 1.1.16-1\n")
	p := newTestPoller(root, utsname{machine: "ppc64le", nodename: "n"})
	si, err := pollOne(t, p)
	require.NoError(t, err)
	require.Equal(t, &event.SystemInformationPayload{
		OSName:                  "Custom",
		OSVersion:               "1.0 LTS",
		OSVendor:                "custom",
		OSArchitecture:          "ppc64le",
		HostName:                "n",
		BootDevice:              "overlay",
		TotalPhysicalMemoryInKB: 1000,
		FreePhysicalMemoryInKB:  310,
		TotalVirtualMemoryInKB:  1000,
		FreeVirtualMemoryInKB:   310,
		ExtraDetails: event.ExtraDetails{
			KeyOSIDLike:       "debian ubuntu",
			KeyCPUModel:       "POWER9 (raw), altivec supported",
			KeyCPUCount:       "2",
			KeyIoTEdgeVersion: "1.1.16-1",
		},
	}, si)

	// pid 1's mount table wins over ours; the topmost mount of / counts.
	write("proc/1/mounts", "/dev/nvme0n1p2 / ext4 rw 0 0\n/dev/mapper/root\\040vol / ext4 rw 0 0\n")
	si, err = pollOne(t, p)
	require.NoError(t, err)
	require.Equal(t, "/dev/mapper/root vol", si.BootDevice)
}

func TestPollUnameFailure(t *testing.T) {
	p := newTestPoller("testdata/hostroot-debian", utsname{})
	p.uname = func() (utsname, error) { return utsname{}, errors.New("no uname") }
	si, err := pollOne(t, p)
	require.NoError(t, err, "uname is not a file every host must have")
	require.Empty(t, si.OSArchitecture)
	require.Equal(t, "edge-gw-01", si.HostName)
}

func TestPollCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	evs, err := New(Options{HostRoot: "testdata/hostroot-debian"}).Poll(ctx)
	require.Nil(t, evs)
	require.ErrorIs(t, err, context.Canceled)
}

func TestRealHost(t *testing.T) {
	evs, err := New(Options{}).Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, evs, 1)
	si := evs[0].Payload[0].(*event.SystemInformationPayload)
	require.NotEmpty(t, si.HostName)
	require.NotEmpty(t, si.OSName)
	require.NotEmpty(t, si.OSArchitecture)
	require.Positive(t, si.TotalPhysicalMemoryInKB)
	require.Positive(t, si.FreePhysicalMemoryInKB)
	require.LessOrEqual(t, si.FreePhysicalMemoryInKB, si.TotalPhysicalMemoryInKB)
	require.GreaterOrEqual(t, si.TotalVirtualMemoryInKB, si.TotalPhysicalMemoryInKB)
	require.LessOrEqual(t, si.FreeVirtualMemoryInKB, si.TotalVirtualMemoryInKB)
	require.NotEmpty(t, si.BootDevice)
	x := si.ExtraDetails
	require.NotEmpty(t, x[KeyKernelRelease])
	boot, err := time.Parse(time.RFC3339, x[KeyBootTimeUTC])
	require.NoError(t, err)
	require.True(t, boot.Before(time.Now()))
	up, err := strconv.ParseInt(x[KeyUptimeSeconds], 10, 64)
	require.NoError(t, err)
	require.Positive(t, up)
	n, err := strconv.Atoi(x[KeyCPUCount])
	require.NoError(t, err)
	require.Positive(t, n)
	t.Logf("%s", evs[0].AppendJSON(nil))
}

func TestResolveInsideRoot(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	require.NoError(t, os.Symlink("../../../../../../usr/lib/x", filepath.Join(root, "etc/up")))
	require.NoError(t, os.Symlink("/etc/up", filepath.Join(root, "etc/abs")))
	require.NoError(t, os.Symlink("b", filepath.Join(root, "etc/a")))
	require.NoError(t, os.Symlink("a", filepath.Join(root, "etc/b")))
	got, err := hostfs.Resolve(root, "etc/abs", true)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "usr/lib/x"), got)
	_, err = hostfs.Resolve(root, "etc/a", true)
	require.ErrorContains(t, err, "too many symbolic links")
	got, err = hostfs.Resolve("/", "etc/os-release", true)
	require.NoError(t, err)
	require.Equal(t, "/etc/os-release", got)
}
