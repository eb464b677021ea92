package sysinfo_test

import (
	"context"
	"fmt"

	"github.com/edgesec/edgesec/collector/sysinfo"
	"github.com/edgesec/edgesec/event"
)

// Take one SystemInformation snapshot of a host whose filesystem is at a
// given root (a test fixture here; "/host" in a container, "/" on the
// host).
func Example() {
	p := sysinfo.New(sysinfo.Options{HostRoot: "testdata/hostroot-debian"})
	evs, err := p.Poll(context.Background())
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	si := evs[0].Payload[0].(*event.SystemInformationPayload)
	fmt.Println(evs[0].Name, evs[0].Category)
	fmt.Println("OS:", si.OSName, si.OSVersion, si.OSVendor)
	fmt.Println("Host:", si.HostName, "booted from", si.BootDevice, "at", si.ExtraDetails[sysinfo.KeyBootTimeUTC])
	fmt.Println("Memory (KiB):", si.TotalPhysicalMemoryInKB, "total,", si.FreePhysicalMemoryInKB, "available")
	fmt.Println("Hardware:", si.ExtraDetails[sysinfo.KeySysVendor], si.ExtraDetails[sysinfo.KeyProductName], "BIOS", si.BIOSVersion)
	fmt.Println("IoT Edge:", si.ExtraDetails[sysinfo.KeyIoTEdgeVersion])
	// Output:
	// SystemInformation Periodic
	// OS: Debian GNU/Linux 12 debian
	// Host: edge-gw-01 booted from /dev/sda1 at 2024-06-01T10:00:00Z
	// Memory (KiB): 8137660 total, 5422100 available
	// Hardware: Microsoft Corporation Virtual Machine BIOS Hyper-V UEFI Release v4.1
	// IoT Edge: 1.4.20-1
}
