package hardware_test

import (
	"context"
	"fmt"
	"io/fs"
	"testing/fstest"

	"github.com/edgesec/edgesec/collector/hardware"
)

// Scan an in-memory sysfs holding one USB device, a keyboard, laid out
// as the kernel lays it out. A real collector uses New or NewCollector
// with Options.HostRoot; Scan is the pure half they call.
func ExampleScan() {
	link := func(target string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink}
	}
	attr := func(v string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(v + "\n")} }
	sysfs := fstest.MapFS{
		"bus/usb/devices/1-3":                                                 link("../../../devices/pci0000:00/0000:00:14.0/usb1/1-3"),
		"devices/pci0000:00/0000:00:14.0/usb1/1-3/idVendor":                   attr("046d"),
		"devices/pci0000:00/0000:00:14.0/usb1/1-3/idProduct":                  attr("c31c"),
		"devices/pci0000:00/0000:00:14.0/usb1/1-3/product":                    attr("USB Keyboard"),
		"devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/bInterfaceClass":    attr("03"),
		"devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/bInterfaceSubClass": attr("01"),
		"devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/bInterfaceProtocol": attr("01"),
	}
	devs, err := hardware.Scan(context.Background(), sysfs)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	for _, d := range devs {
		fmt.Printf("%s/%s %q %s:%s keyboard=%s\n", d.Category, d.SubCategory, d.Name,
			d.Details[hardware.KeyVendorID], d.Details[hardware.KeyProductID], d.Details[hardware.KeyKeyboard])
	}
	// Output:
	// USB/HID "USB Keyboard" 046d:c31c keyboard=true
}

// Take one ConnectedHardware snapshot of this machine.
func ExampleNew() {
	p := hardware.New(hardware.Options{HostRoot: "/"})
	evs, err := p.Poll(context.Background())
	if err != nil {
		fmt.Println("error:", err)
	}
	for _, ev := range evs {
		fmt.Println(ev.Name, len(ev.Payload), "devices")
	}
}
