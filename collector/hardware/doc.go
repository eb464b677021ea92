// Package hardware is the ConnectedHardware collector: a periodic
// inventory of the hardware attached to an edge device, one payload item
// per device, read from sysfs. It answers the questions a security
// reviewer asks of a gateway: was a USB stick or a keyboard plugged in
// (a keystroke injector is the classic attack on an unattended box),
// which serial ports carry the field bus (Modbus RTU on RS-485), which
// network interfaces, disks and cameras are there, and did any of it
// change since the last snapshot.
//
// # What it reads
//
// Under the configured host root ("/" by default, "/host" when the module
// runs in a container), at <root>/sys:
//
//   - /sys/bus/usb/devices: USB devices (HardwareCategory "USB"). The
//     subcategory is the device class, or the most security-relevant
//     interface class ("Mass Storage", then "HID", "Communications", …),
//     or, for vendor-specific devices, what their driver makes of them
//     ("Serial Adapter", "Network Adapter", "Cellular Modem", "CAN
//     Adapter"). ExtraDetails carry VendorId, ProductId, Manufacturer,
//     Product, SerialNumber, Port, BusNumber, DeviceNumber, Speed,
//     UsbVersion, InterfaceClasses and Drivers, and the flags MassStorage,
//     HID and Keyboard (a HID boot keyboard interface), Authorized "false"
//     for a device deauthorized by USBGuard or the like, RootHub.
//   - /sys/bus/pci/devices: PCI functions ("PCI"), named by class and
//     ids ("Ethernet Controller 8086:15be"), with Address, VendorId,
//     DeviceId, SubsystemVendorId, SubsystemDeviceId, Class, Revision and
//     Driver.
//   - /sys/class/tty: serial ports with hardware behind them ("Serial":
//     "UART", "USB Serial", "USB CDC ACM" …). Virtual terminals and ptys
//     have no device and are skipped, and so are the 8250 ports the
//     kernel registers without finding a UART (type 0).
//   - /sys/block: block devices with a device ("Storage": "Disk",
//     "NVMe", "SD Card", "eMMC", "USB Disk", "Removable Disk", "CD-ROM"),
//     with SizeBytes, Removable, ReadOnly, Vendor, Model and SerialNumber.
//     Loop, zram, device-mapper and md devices are not hardware.
//   - /sys/class/net: network interfaces with a device ("Network":
//     "Ethernet", "Wireless", "Cellular", "CAN", "Adapter"), with
//     MacAddress, Driver, Bus and OperState. Bridges, veths and tunnels
//     are not hardware.
//   - /sys/class/video4linux: video devices ("Video": "Camera", "Codec",
//     "Video Device"), one item per device with all its nodes in Devices.
//
// Serial, storage, network and video devices behind a USB device carry
// Connection "USB" and UsbPort, UsbVendorId and UsbProductId, which tie
// them to that device's USB item (its Port).
//
// Items come in that order, each category in sysfs directory order, so
// that two snapshots of an unchanged device compare equal.
//
// # Privileges
//
// None: every file read is world-readable in sysfs, and the collector
// opens no device node. It needs the host's sysfs: in a container, mount
// it (for instance -v /sys:/host/sys:ro, or the host's / with rbind so
// that its /sys submount comes along). A host root whose /sys is missing
// (an error wrapping [fs.ErrNotExist]) or empty ([ErrNoSysfs]) is reported
// as an error and no event is sent, since an empty snapshot would claim that nothing is connected.
//
// # Identifiers
//
// USB, disk and SD card serial numbers and MAC addresses identify the
// device and, on a personal device, its owner. They are sent because
// telling one USB stick from another is the point of the inventory;
// operators whose policy forbids sending them should not enable this
// event (its priority is eventPriorityConnectedHardware in the module
// twin; "Off" disables it).
//
// # Hostile input
//
// USB manufacturer, product and serial strings are chosen by whoever made
// the device, and a malicious one can put anything there. Every value is
// passed through [CleanAttr] (cut at NUL, invalid UTF-8 replaced, control
// and invisible characters turned into spaces, at most [MaxValueBytes]),
// at most [MaxAttrBytes] of an attribute is read and at most
// [MaxDevicesPerSource] entries of a directory, and symbolic links are
// resolved inside the sysfs root (at most 40 per path), so memory stays
// bounded and nothing outside sysfs is read. Files that exist but cannot
// be read are reported as a [ScanError] through the error Poll returns
// (the engine turns it into a Diagnostic event); the devices that could
// be read are still sent. A snapshot is split into several
// ConnectedHardware events when it would not fit in
// [Options.MaxEventBytes].
//
// # Limits
//
// Names come from sysfs only: PCI devices are named by class and ids,
// not by the pci.ids database, and USB devices without a product string
// by their manufacturer or ids. Devices on buses not listed above (I2C,
// SPI, GPIO, Bluetooth peripherals, sound cards not on USB) are reported
// only through the network, serial, storage and video devices they
// provide.
package hardware
