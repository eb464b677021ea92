package sysinfo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/hostfs"
)

// ExtraDetails keys of the SystemInformation item. A key is present only
// when its value could be read.
const (
	KeyKernelRelease  = "KernelRelease"  // uname -r
	KeyKernelVersion  = "KernelVersion"  // uname -v
	KeyOSPrettyName   = "OsPrettyName"   // os-release PRETTY_NAME
	KeyOSVersionFull  = "OsVersionFull"  // os-release VERSION, when it differs from OSVersion
	KeyOSIDLike       = "OsIdLike"       // os-release ID_LIKE
	KeyBootTimeUTC    = "BootTimeUtc"    // RFC 3339
	KeyUptimeSeconds  = "UptimeSeconds"  // whole seconds
	KeyCPUModel       = "CpuModel"       // from /proc/cpuinfo
	KeyCPUCount       = "CpuCount"       // logical processors in /proc/cpuinfo
	KeyHardwareModel  = "HardwareModel"  // device-tree model, or cpuinfo Model/Hardware (ARM boards)
	KeySysVendor      = "SysVendor"      // DMI sys_vendor
	KeyProductName    = "ProductName"    // DMI product_name
	KeyBoardName      = "BoardName"      // DMI board_name
	KeyBIOSVendor     = "BiosVendor"     // DMI bios_vendor
	KeyBIOSDate       = "BiosDate"       // DMI bios_date
	KeyProductUUID    = "ProductUuid"    // DMI product_uuid (root only)
	KeyMachineID      = "MachineId"      // /etc/machine-id
	KeyIoTEdgeVersion = "IotEdgeVersion" // aziot-edge (1.2+) or iotedge (1.1) package version
	KeyIdentityVer    = "AziotIdentityServiceVersion"
	KeyMobyVersion    = "MobyEngineVersion" // moby-engine package version
)

// Bounds on how much of each file is read.
const (
	maxSmallFile = 4 << 10   // one-value files: hostname, DMI, machine-id
	maxProcFile  = 16 << 20  // /proc files, os-release
	maxDpkgFile  = 256 << 20 // the dpkg database
	maxValue     = 256       // longest value kept from a one-value file
)

// Options configure the SystemInformation collector.
type Options struct {
	// HostRoot is where the host's filesystem is: "/" (the default, when
	// empty) or "/host" when running in a container with the host
	// filesystem mounted there. Files under proc and sys are read below
	// HostRoot too, so a container needs the host's /proc and /sys
	// there (see the package documentation). Absolute symbolic links are
	// resolved inside HostRoot.
	HostRoot string
	// Logger receives debug messages about files that could not be read;
	// nil discards them.
	Logger *slog.Logger
}

// utsname is what the Poller needs from uname(2).
type utsname struct {
	machine, nodename, release, version string
}

// Poller takes SystemInformation snapshots. It implements
// [collector.Poller]; a Poller may be used by one goroutine at a time.
type Poller struct {
	root  string
	log   *slog.Logger
	now   func() time.Time
	uname func() (utsname, error)
}

// New returns a Poller reading the host under o.HostRoot.
func New(o Options) *Poller {
	root := o.HostRoot
	if root == "" {
		root = "/"
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Poller{root: filepath.Clean(root), log: log, now: time.Now, uname: sysUname}
}

// NewCollector returns the SystemInformation collector: New(o) polled once
// at start and then every interval().
func NewCollector(o Options, interval func() time.Duration) *collector.Ticker {
	return collector.Every(event.SystemInformation, interval, New(o))
}

func sysUname() (utsname, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return utsname{}, fmt.Errorf("uname: %w", err)
	}
	return utsname{
		machine:  unix.ByteSliceToString(u.Machine[:]),
		nodename: unix.ByteSliceToString(u.Nodename[:]),
		release:  unix.ByteSliceToString(u.Release[:]),
		version:  unix.ByteSliceToString(u.Version[:]),
	}, nil
}

// Poll implements [collector.Poller]: it returns one Periodic
// SystemInformation event with one item.
//
// Poll fills in what it can. A missing or unreadable file leaves its
// fields empty; only problems with the files every Linux host has
// (os-release and /proc/meminfo: missing, unreadable or malformed) are
// returned as an error, joined, next to the event. Poll returns no event
// only when ctx is done.
func (p *Poller) Poll(ctx context.Context) ([]event.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := p.now()
	si := &event.SystemInformationPayload{ExtraDetails: event.ExtraDetails{}}
	x := si.ExtraDetails
	var errs []error

	// Operating system.
	osr, err := p.osRelease()
	if err != nil {
		errs = append(errs, err)
	}
	si.OSName = osr["NAME"]
	si.OSVersion = osr["VERSION_ID"]
	if si.OSVersion == "" {
		si.OSVersion = osr["VERSION"]
	} else if v := osr["VERSION"]; v != "" && v != si.OSVersion {
		set(x, KeyOSVersionFull, v)
	}
	si.OSVendor = osr["ID"]
	set(x, KeyOSPrettyName, osr["PRETTY_NAME"])
	set(x, KeyOSIDLike, osr["ID_LIKE"])

	// Kernel: uname describes the running kernel, which is the host's
	// even from inside a container.
	u, err := p.uname()
	if err != nil {
		p.log.Debug("sysinfo: uname failed", slog.Any("error", err))
	}
	si.OSArchitecture = u.machine
	set(x, KeyKernelRelease, u.release)
	set(x, KeyKernelVersion, u.version)

	si.HostName = p.firstLine("etc/hostname")
	if si.HostName == "" {
		si.HostName = u.nodename
	}

	// Memory.
	if err := p.memory(si); err != nil {
		errs = append(errs, err)
	}

	// Boot time and uptime.
	var btime int64
	if err := p.read("proc/stat", maxProcFile, func(r io.Reader) {
		btime, _ = parseBootTime(r)
	}); err == nil && btime > 0 {
		set(x, KeyBootTimeUTC, time.Unix(btime, 0).UTC().Format(time.RFC3339))
	}
	if up, ok := parseUptime([]byte(p.firstLine("proc/uptime"))); ok {
		set(x, KeyUptimeSeconds, strconv.FormatInt(up, 10))
	} else if btime > 0 && now.Unix() >= btime {
		set(x, KeyUptimeSeconds, strconv.FormatInt(now.Unix()-btime, 10))
	}

	// Boot device: the device mounted at / in the host's mount namespace
	// (pid 1's when visible), or the kernel's root= parameter when the
	// mount table names no real device.
	si.BootDevice = p.bootDevice()

	// CPU and hardware.
	var ci cpuInfo
	_ = p.read("proc/cpuinfo", maxProcFile, func(r io.Reader) { ci = parseCPUInfo(r) })
	set(x, KeyCPUModel, ci.model)
	if ci.count > 0 {
		set(x, KeyCPUCount, strconv.Itoa(ci.count))
	}
	hw := p.firstLine("sys/firmware/devicetree/base/model")
	if hw == "" {
		hw = ci.board
	}
	set(x, KeyHardwareModel, hw)
	si.BIOSVersion = p.firstLine("sys/class/dmi/id/bios_version")
	for key, file := range map[string]string{
		KeySysVendor:   "sys_vendor",
		KeyProductName: "product_name",
		KeyBoardName:   "board_name",
		KeyBIOSVendor:  "bios_vendor",
		KeyBIOSDate:    "bios_date",
		KeyProductUUID: "product_uuid",
	} {
		set(x, key, p.firstLine("sys/class/dmi/id/"+file))
	}
	mid := p.firstLine("etc/machine-id")
	if mid == "" {
		mid = p.firstLine("var/lib/dbus/machine-id")
	}
	set(x, KeyMachineID, mid)

	// IoT Edge runtime, from the package database (never by running it).
	var pkgs map[string]string
	_ = p.read("var/lib/dpkg/status", maxDpkgFile, func(r io.Reader) { pkgs = parseDpkgStatus(r, edgePackages) })
	edge := pkgs["aziot-edge"]
	if edge == "" {
		edge = pkgs["iotedge"]
	}
	set(x, KeyIoTEdgeVersion, edge)
	set(x, KeyIdentityVer, pkgs["aziot-identity-service"])
	set(x, KeyMobyVersion, pkgs["moby-engine"])

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return []event.Event{event.Must(event.SystemInformation, now, si)}, errors.Join(errs...)
}

var edgePackages = map[string]bool{"aziot-edge": true, "iotedge": true, "aziot-identity-service": true, "moby-engine": true}

// osRelease reads etc/os-release, falling back to usr/lib/os-release.
func (p *Poller) osRelease() (map[string]string, error) {
	var osr map[string]string
	var perr error
	err := p.read("etc/os-release", maxProcFile, func(r io.Reader) { osr, perr = ParseOSRelease(r) })
	if errors.Is(err, fs.ErrNotExist) {
		err = p.read("usr/lib/os-release", maxProcFile, func(r io.Reader) { osr, perr = ParseOSRelease(r) })
	}
	if err != nil {
		return nil, fmt.Errorf("sysinfo: os-release: %w", err)
	}
	if perr != nil {
		return osr, fmt.Errorf("sysinfo: %w", perr)
	}
	return osr, nil
}

// memory fills the memory figures from proc/meminfo.
func (p *Poller) memory(si *event.SystemInformationPayload) error {
	var mi map[string]int64
	var perr error
	if err := p.read("proc/meminfo", maxProcFile, func(r io.Reader) { mi, perr = ParseMeminfo(r) }); err != nil {
		return fmt.Errorf("sysinfo: meminfo: %w", err)
	}
	if perr != nil {
		perr = fmt.Errorf("sysinfo: %w", perr)
	}
	total, ok := mi["MemTotal"]
	if !ok {
		return errors.Join(perr, fmt.Errorf("sysinfo: %s has no MemTotal", p.path("proc/meminfo")))
	}
	free, ok := mi["MemAvailable"]
	if !ok { // kernels before 3.14
		free = mi["MemFree"] + mi["Buffers"] + mi["Cached"]
	}
	si.TotalPhysicalMemoryInKB = total
	si.FreePhysicalMemoryInKB = free
	si.TotalVirtualMemoryInKB = total + mi["SwapTotal"]
	si.FreeVirtualMemoryInKB = free + mi["SwapFree"]
	return perr
}

func (p *Poller) bootDevice() string {
	var m rootMount
	found := false
	for _, f := range []string{"proc/1/mounts", "proc/mounts"} {
		if err := p.read(f, maxProcFile, func(r io.Reader) { m, found = parseRootMount(r) }); err == nil && found {
			break
		}
	}
	if found && strings.HasPrefix(m.device, "/dev/") && m.device != "/dev/root" {
		return m.device
	}
	if root := parseCmdlineRoot([]byte(p.firstLine("proc/cmdline"))); root != "" {
		return root
	}
	if found {
		return m.device
	}
	return ""
}

// set stores a non-empty value.
func set(x event.ExtraDetails, key, value string) {
	if value != "" {
		x[key] = value
	}
}

func (p *Poller) path(rel string) string { return filepath.Join(p.root, rel) }

// read opens root/rel and hands at most limit bytes of it to parse. It
// logs and returns the error when the file cannot be opened.
func (p *Poller) read(rel string, limit int64, parse func(io.Reader)) error {
	name, err := hostfs.Resolve(p.root, rel, true)
	if err == nil {
		var f *os.File
		f, err = os.Open(name)
		if err == nil {
			defer f.Close()
			parse(io.LimitReader(f, limit))
			return nil
		}
	}
	p.log.Debug("sysinfo: cannot read", slog.String("file", p.path(rel)), slog.Any("error", err))
	return err
}

// firstLine returns the first non-comment line of a small file, trimmed
// of blanks and NUL bytes (device-tree strings end with one), at most
// maxValue bytes; "" when the file cannot be read.
func (p *Poller) firstLine(rel string) string {
	var b []byte
	_ = p.read(rel, maxSmallFile, func(r io.Reader) { b, _ = io.ReadAll(r) })
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		line = bytes.Trim(line, " \t\r\x00")
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if len(line) > maxValue {
			line = line[:maxValue]
		}
		return string(line)
	}
	return ""
}
