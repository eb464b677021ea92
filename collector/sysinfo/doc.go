// Package sysinfo is the SystemInformation collector: a periodic snapshot
// (one event, one item) of what the host is: operating system, kernel,
// architecture, host name, memory, boot time, boot device, CPU, hardware
// identifiers and the IoT Edge runtime version.
//
// # What it reads
//
// Everything is read under the configured host root ("/" by default,
// "/host" when the module runs in a container with the host filesystem
// mounted there); nothing is executed.
//
//   - etc/os-release, or usr/lib/os-release: OSName (NAME), OSVersion
//     (VERSION_ID, else VERSION), OSVendor (ID); ExtraDetails OsPrettyName,
//     OsVersionFull, OsIdLike.
//   - uname(2): OsArchitecture (the machine, such as x86_64 or aarch64, as
//     the kernel names it) and ExtraDetails KernelRelease, KernelVersion.
//     uname describes the running kernel, which is the host's kernel even
//     inside a container.
//   - etc/hostname: HostName (uname's node name when the file is missing).
//   - proc/meminfo: TotalPhysicalMemoryInKB (MemTotal),
//     FreePhysicalMemoryInKB (MemAvailable), TotalVirtualMemoryInKB
//     (MemTotal + SwapTotal), FreeVirtualMemoryInKB (MemAvailable +
//     SwapFree).
//   - proc/stat (btime) and proc/uptime: ExtraDetails BootTimeUtc
//     (RFC 3339) and UptimeSeconds.
//   - proc/1/mounts or proc/mounts, and proc/cmdline: BootDevice, the
//     device mounted at / (the kernel's root= parameter when the mount
//     table only says /dev/root, overlay or the like).
//   - proc/cpuinfo: ExtraDetails CpuModel and CpuCount.
//   - sys/class/dmi/id: BIOSVersion and ExtraDetails SysVendor,
//     ProductName, BoardName, BiosVendor, BiosDate and ProductUuid;
//     sys/firmware/devicetree/base/model (ARM boards, which have no DMI):
//     HardwareModel.
//   - etc/machine-id (or var/lib/dbus/machine-id): ExtraDetails MachineId.
//   - var/lib/dpkg/status: ExtraDetails IotEdgeVersion (package aziot-edge,
//     or iotedge for IoT Edge 1.1), AziotIdentityServiceVersion and
//     MobyEngineVersion, for installed packages.
//
// An ExtraDetails key is left out when its value could not be read.
//
// # Running in a container
//
// With HostRoot "/host", proc and sys are read at /host/proc and
// /host/sys. Mount the host's /proc and /sys there (read-only), or run
// the module in the host PID namespace and bind-mount the host root
// (which then includes a proc of the host's PID namespace). Without them,
// the memory figures and boot time are still the host's (the kernel does
// not namespace them) as long as some proc is mounted there, but the boot
// device may be the container's view.
//
// # Privileges
//
// Everything is world-readable except product_uuid (root only):
// without root the ProductUuid key is simply absent. When proc is mounted
// with hidepid, pid 1's entry is hidden from other users; the collector
// then falls back to proc/mounts (its own mount namespace).
//
// # Errors
//
// A missing or unreadable file is not an error of the poll: its fields
// stay empty and a debug message is logged. Only problems with
// os-release and proc/meminfo, which every Linux host has, are returned
// (joined) next to the event, so that the engine reports them.
// [ParseOSRelease] and [ParseMeminfo] are the pure parsers of those two
// files; they bound memory (lines of at most [MaxLineBytes], at most
// [MaxKeys] keys) and are fuzzed.
package sysinfo
