package hardware

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/event"
)

var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newTestPoller(root string, maxBytes int) *Poller {
	p := New(Options{HostRoot: root, MaxEventBytes: maxBytes})
	p.now = func() time.Time { return fixedNow }
	return p
}

func hw(category, sub, name string, kv ...string) *event.ConnectedHardwarePayload {
	x := event.ExtraDetails{}
	for i := 0; i+1 < len(kv); i += 2 {
		x[kv[i]] = kv[i+1]
	}
	return &event.ConnectedHardwarePayload{HardwareCategory: category, HardwareSubCategory: sub, HardwareName: name, ExtraDetails: x}
}

// usbDev is a USB item with the details every fixture device has.
func usbDev(sub, name, port, vid, pid, bus, dev, speed, version string, kv ...string) *event.ConnectedHardwarePayload {
	return hw(CategoryUSB, sub, name, append([]string{KeyPort, port, KeyVendorID, vid, KeyProductID, pid,
		KeyBusNumber, bus, KeyDeviceNumber, dev, KeySpeed, speed, KeyUSBVersion, version}, kv...)...)
}

func pciDev(sub, addr, vid, did, class, rev, svid, sdid string, kv ...string) *event.ConnectedHardwarePayload {
	return hw(CategoryPCI, sub, sub+" "+vid+":"+did, append([]string{KeyAddress, addr, KeyVendorID, vid, KeyDeviceID, did,
		KeyClass, class, KeyRevision, rev, KeySubsystemVendorID, svid, KeySubsystemDeviceID, sdid}, kv...)...)
}

// The gateway fixture (testdata/gateway.sysfs) as the hub must see it.
var gatewayWant = []event.Item{
	usbDev("Serial Adapter", "FT232R USB UART", "1-1", "0403", "6001", "1", "2", "12", "2.00",
		KeyManufacturer, "FTDI", KeyProduct, "FT232R USB UART", KeySerialNumber, "A50285BI",
		KeyInterfaceClasses, "Vendor Specific", KeyDrivers, "ftdi_sio"),
	usbDev("Mass Storage", "Cruzer Blade", "1-2", "0781", "5567", "1", "3", "480", "2.00",
		KeyManufacturer, "SanDisk", KeyProduct, "Cruzer Blade", KeySerialNumber, "4C530001120912117394",
		KeyInterfaceClasses, "Mass Storage", KeyDrivers, "usb-storage", KeyMassStorage, "true"),
	usbDev("HID", "USB Keyboard", "1-3", "046d", "c31c", "1", "4", "1.5", "1.10",
		KeyManufacturer, "Logitech", KeyProduct, "USB Keyboard",
		KeyInterfaceClasses, "HID", KeyDrivers, "usbhid", KeyHID, "true", KeyKeyboard, "true"),
	// No product string: named by its manufacturer.
	usbDev("Communications", "Arduino (www.arduino.cc)", "1-4", "2341", "0043", "1", "5", "12", "1.10",
		KeyManufacturer, "Arduino (www.arduino.cc)", KeySerialNumber, "7583934353235171E0A1", KeyDeviceClass, "Communications",
		KeyInterfaceClasses, "Communications;CDC Data", KeyDrivers, "cdc_acm"),
	usbDev("Video", "C270 HD WEBCAM", "1-5", "046d", "0825", "1", "6", "480", "2.00",
		KeyProduct, "C270 HD WEBCAM", KeySerialNumber, "200901010001", KeyDeviceClass, "Miscellaneous",
		KeyInterfaceClasses, "Video;Audio", KeyDrivers, "uvcvideo;snd-usb-audio"),
	// Deauthorized, no drivers bound; the hostile strings are neutralized.
	usbDev("Mass Storage", "Rubber Ducky [31m", "1-6", "1337", "0001", "1", "7", "12", "2.00",
		KeyManufacturer, "Evil\uFFFDCorp", KeyProduct, "Rubber Ducky [31m", KeyAuthorized, "false",
		KeyInterfaceClasses, "HID;Mass Storage", KeyHID, "true", KeyKeyboard, "true", KeyMassStorage, "true"),
	usbDev("Hub", "USB2.0 Hub", "1-7", "05e3", "0608", "1", "8", "480", "2.00",
		KeyProduct, "USB2.0 Hub", KeyDeviceClass, "Hub", KeyInterfaceClasses, "Hub", KeyDrivers, "hub"),
	usbDev("Network Adapter", "USB 10/100/1000 LAN", "1-7.1", "0bda", "8153", "1", "9", "480", "2.10",
		KeyManufacturer, "Realtek", KeyProduct, "USB 10/100/1000 LAN", KeySerialNumber, "000001",
		KeyInterfaceClasses, "Vendor Specific", KeyDrivers, "r8152"),
	usbDev("Hub", "xHCI Host Controller", "usb1", "1d6b", "0002", "1", "1", "480", "2.00",
		KeyManufacturer, "Linux 6.1.0-18-amd64 xhci-hcd", KeyProduct, "xHCI Host Controller", KeySerialNumber, "0000:00:14.0",
		KeyDeviceClass, "Hub", KeyInterfaceClasses, "Hub", KeyDrivers, "hub", KeyRootHub, "true"),
	usbDev("Hub", "xHCI Host Controller", "usb2", "1d6b", "0003", "2", "1", "5000", "3.00",
		KeyManufacturer, "Linux 6.1.0-18-amd64 xhci-hcd", KeyProduct, "xHCI Host Controller", KeySerialNumber, "0000:00:14.0",
		KeyDeviceClass, "Hub", KeyInterfaceClasses, "Hub", KeyDrivers, "hub", KeyRootHub, "true"),

	pciDev("Host Bridge", "0000:00:00.0", "8086", "3e34", "060000", "0b", "8086", "2212"),
	pciDev("USB Controller", "0000:00:14.0", "8086", "9ded", "0c0330", "30", "8086", "2212", KeyDriver, "xhci_hcd"),
	pciDev("PCI Bridge", "0000:00:1d.0", "8086", "9db0", "060400", "f0", "8086", "2212", KeyDriver, "pcieport"),
	pciDev("Ethernet Controller", "0000:00:1f.6", "8086", "15be", "020000", "30", "8086", "2212", KeyDriver, "e1000e"),
	pciDev("NVMe Controller", "0000:01:00.0", "144d", "a808", "010802", "00", "144d", "a801", KeyDriver, "nvme"),

	hw(CategorySerial, "USB CDC ACM", "ttyACM0", KeyDevice, "/dev/ttyACM0", KeyDriver, "cdc_acm",
		KeyConnection, "USB", KeyUSBPort, "1-4", KeyUSBVendorID, "2341", KeyUSBProductID, "0043"),
	// ttyS1 (type 0: no UART) and tty0 (virtual) are not hardware.
	hw(CategorySerial, "UART", "ttyS0", KeyDevice, "/dev/ttyS0", KeyDriver, "serial", KeyUARTType, "16550A",
		KeyIOPort, "0x3F8", KeyIRQ, "4"),
	hw(CategorySerial, "USB Serial", "ttyUSB0", KeyDevice, "/dev/ttyUSB0", KeyDriver, "ftdi_sio",
		KeyConnection, "USB", KeyUSBPort, "1-1", KeyUSBVendorID, "0403", KeyUSBProductID, "6001"),

	// loop0 is virtual.
	hw(CategoryStorage, "SD Card", "SC64G", KeyDevice, "/dev/mmcblk0", KeyModel, "SC64G", KeySerialNumber, "0x8a3f2b10",
		KeySizeBytes, "63864569856", KeyRemovable, "false", KeyReadOnly, "false"),
	hw(CategoryStorage, "NVMe", "Samsung SSD 970 EVO Plus 500GB", KeyDevice, "/dev/nvme0n1",
		KeyModel, "Samsung SSD 970 EVO Plus 500GB", KeySerialNumber, "S4EVNX0N123456",
		KeySizeBytes, "500107862016", KeyRemovable, "false", KeyReadOnly, "false"),
	hw(CategoryStorage, "USB Disk", "SanDisk Cruzer Blade", KeyDevice, "/dev/sdb", KeyVendor, "SanDisk", KeyModel, "Cruzer Blade",
		KeySizeBytes, "15376318464", KeyRemovable, "true", KeyReadOnly, "false",
		KeyConnection, "USB", KeyUSBPort, "1-2", KeyUSBVendorID, "0781", KeyUSBProductID, "5567"),

	// lo is virtual.
	hw(CategoryNetwork, "CAN", "can0", KeyInterface, "can0", KeyDriver, "mcp251x", KeyBus, "spi", KeyOperState, "up"),
	hw(CategoryNetwork, "Ethernet", "enp0s31f6", KeyInterface, "enp0s31f6", KeyDriver, "e1000e", KeyBus, "pci",
		KeyMACAddress, "54:b2:03:12:34:56", KeyOperState, "up"),
	hw(CategoryNetwork, "Ethernet", "eth1", KeyInterface, "eth1", KeyDriver, "r8152", KeyBus, "usb",
		KeyMACAddress, "00:e0:4c:68:00:01", KeyOperState, "down",
		KeyConnection, "USB", KeyUSBPort, "1-7.1", KeyUSBVendorID, "0bda", KeyUSBProductID, "8153"),
	hw(CategoryNetwork, "Wireless", "wlan0", KeyInterface, "wlan0", KeyDriver, "brcmfmac", KeyBus, "sdio",
		KeyMACAddress, "dc:a6:32:01:02:03", KeyOperState, "up"),

	// One item for the camera's two nodes.
	hw(CategoryVideo, "Camera", "C270 HD WEBCAM", KeyDevices, "/dev/video0;/dev/video1", KeyDriver, "uvcvideo",
		KeyConnection, "USB", KeyUSBPort, "1-5", KeyUSBVendorID, "046d", KeyUSBProductID, "0825"),
}

func TestPollGateway(t *testing.T) {
	evs, err := newTestPoller(gatewayRoot(t), 1<<30).Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, evs, 1)
	ev := evs[0]
	require.Equal(t, event.ConnectedHardware, ev.Name)
	require.Equal(t, event.Periodic, ev.Category)
	require.Equal(t, event.Security, ev.Type)
	require.Equal(t, fixedNow, ev.Time)
	require.True(t, event.ValidID(ev.ID))
	require.Equal(t, gatewayWant, ev.Payload)

	// The bytes a hostile device put in its strings do not reach the wire.
	js := string(ev.AppendJSON(nil))
	for _, bad := range []string{"\x1b", `\u001b`, `\u0001`, "hidden", `\t`} {
		require.NotContains(t, js, bad)
	}
}

// Scan depends only on fs.FS: the in-memory tree gives what the files on
// disk give.
func TestScanMapFSMatchesDisk(t *testing.T) {
	entries := loadManifest(t, "testdata/gateway.sysfs")
	devs, err := Scan(context.Background(), mapFS(entries))
	require.NoError(t, err)
	require.Equal(t, gatewayWant, Items(devs))

	root, err := os.OpenRoot(filepath.Join(buildHostRoot(t, entries), "sys"))
	require.NoError(t, err)
	defer root.Close()
	devs, err = Scan(context.Background(), root.FS())
	require.NoError(t, err)
	require.Equal(t, gatewayWant, Items(devs))
}

// A host root whose /sys is a symbolic link (as a container's bind mount
// may be) is followed inside the host root.
func TestPollSysIsALink(t *testing.T) {
	root := gatewayRoot(t)
	require.NoError(t, os.Rename(filepath.Join(root, "sys"), filepath.Join(root, "realsys")))
	require.NoError(t, os.Symlink("/realsys", filepath.Join(root, "sys")))
	evs, err := newTestPoller(root, 1<<30).Poll(context.Background())
	require.NoError(t, err)
	require.Equal(t, gatewayWant, evs[0].Payload)
}

func TestPollWithoutSysfs(t *testing.T) {
	root := t.TempDir()
	evs, err := newTestPoller(root, 0).Poll(context.Background())
	require.Error(t, err, "no /sys at all")
	require.Empty(t, evs)

	require.NoError(t, os.Mkdir(filepath.Join(root, "sys"), 0o755))
	evs, err = newTestPoller(root, 0).Poll(context.Background())
	require.ErrorIs(t, err, ErrNoSysfs, "an empty /sys is an unmounted sysfs, not a host without hardware")
	require.Empty(t, evs)
}

// A sysfs with the subsystems but no hardware gives one empty snapshot.
func TestPollNoHardware(t *testing.T) {
	root := buildHostRoot(t, []entry{
		{kind: 'D', path: "class/net"}, {kind: 'D', path: "bus/usb/devices"}, {kind: 'D', path: "devices/virtual"},
		{kind: 'F', path: "devices/virtual/net/lo/address", target: "00:00:00:00:00:00\n"},
		{kind: 'L', path: "class/net/lo", target: "../../devices/virtual/net/lo"},
	})
	evs, err := newTestPoller(root, 0).Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.True(t, evs[0].IsEmpty())
}

func TestPollCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	evs, err := newTestPoller(gatewayRoot(t), 0).Poll(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, evs)
}

// Unreadable files are reported; what could be read is still sent.
func TestScanUnreadable(t *testing.T) {
	m := mapFS(loadManifest(t, "testdata/gateway.sysfs"))
	// An attribute that is a directory cannot be read.
	m["devices/pci0000:00/0000:00:14.0/usb1/1-3/product"] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
	m["devices/pci0000:00/0000:00:14.0/usb1/1-3/product/x"] = &fstest.MapFile{}
	devs, err := Scan(context.Background(), m)
	var se *ScanError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 1, se.Unreadable)
	require.Contains(t, se.First, "1-3/product")
	require.Contains(t, err.Error(), "1 sysfs file(s) unreadable")
	require.Len(t, devs, len(gatewayWant))
	// The keyboard is still there, named by its manufacturer.
	require.Equal(t, "Logitech", devs[2].Name)
	require.Equal(t, "true", devs[2].Details[KeyKeyboard])
}

// More entries than MaxDevicesPerSource in one directory are dropped and
// counted.
func TestScanBounded(t *testing.T) {
	m := fstest.MapFS{}
	n := MaxDevicesPerSource + 10
	for i := range n {
		name := fmt.Sprintf("0000:%02x:%02x.%d", i>>8, i>>3&31, i&7)
		m["bus/pci/devices/"+name+"/vendor"] = &fstest.MapFile{Data: []byte("0x8086\n")}
		m["bus/pci/devices/"+name+"/device"] = &fstest.MapFile{Data: []byte("0x1234\n")}
	}
	devs, err := Scan(context.Background(), m)
	var se *ScanError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 10, se.Dropped)
	require.Len(t, devs, MaxDevicesPerSource)
}

// A symbolic link loop is not followed for ever.
func TestScanLinkLoop(t *testing.T) {
	m := fstest.MapFS{
		"class/tty/ttyX/device/driver": &fstest.MapFile{Data: []byte("../../../bus/x/drivers/loopy"), Mode: fs.ModeSymlink},
		"class/tty/ttyX/a":             &fstest.MapFile{Data: []byte("b"), Mode: fs.ModeSymlink},
		"class/tty/ttyX/b":             &fstest.MapFile{Data: []byte("a"), Mode: fs.ModeSymlink},
	}
	s := &scanner{fsys: m, perr: &ScanError{}}
	require.Equal(t, "", s.resolve("class/tty/ttyX/a/c"))
	devs, err := Scan(context.Background(), m)
	require.NoError(t, err)
	require.Equal(t, []Device{{Category: CategorySerial, SubCategory: "UART", Name: "ttyX",
		Details: event.ExtraDetails{KeyDevice: "/dev/ttyX", KeyDriver: "loopy"}}}, devs)
}

// A snapshot larger than MaxEventBytes is split; no item is lost or
// reordered.
func TestPollSplits(t *testing.T) {
	const max = 1500
	evs, err := newTestPoller(gatewayRoot(t), max).Poll(context.Background())
	require.NoError(t, err)
	require.Greater(t, len(evs), 3)
	var all []event.Item
	for _, ev := range evs {
		require.Equal(t, event.ConnectedHardware, ev.Name)
		if len(ev.Payload) > 1 {
			require.LessOrEqual(t, ev.Size(), max)
		}
		all = append(all, ev.Payload...)
	}
	require.Equal(t, gatewayWant, all)
}

func TestUSBSubCategory(t *testing.T) {
	for _, tc := range []struct {
		dev  uint8
		ifs  []uint8
		want string
	}{
		{0x09, []uint8{0x09}, "Hub"},
		{0x00, []uint8{0x03, 0x08}, "Mass Storage"}, // storage outranks HID
		{0x00, []uint8{0x01, 0x03}, "HID"},          // a headset with buttons is a HID
		{0xef, []uint8{0x0e, 0x01}, "Video"},
		{0x02, []uint8{0x02, 0x0a}, "Communications"},
		{0xff, []uint8{0xff}, "Vendor Specific"},
		{0x00, []uint8{0x77}, "Class 77"},
		{0x00, nil, "Unknown"},
		{0xef, nil, "Miscellaneous"},
	} {
		require.Equal(t, tc.want, USBSubCategory(tc.dev, tc.ifs), "%02x %v", tc.dev, tc.ifs)
	}
}

func TestPCIClassName(t *testing.T) {
	for code, want := range map[uint32]string{
		0x020000: "Ethernet Controller", 0x0c0330: "USB Controller", 0x010802: "NVMe Controller",
		0x018000: "Mass Storage Controller", 0xffff00: "Unassigned Class", 0x7a0000: "Class 7a", 0x0c0900: "CAN Controller",
	} {
		require.Equal(t, want, PCIClassName(code), "%06x", code)
	}
}

func TestUARTType(t *testing.T) {
	for in, want := range map[string]string{"4": "16550A", "83": "AMBA", "200": "200", " 1\n": "8250"} {
		got, ok := UARTType(in)
		require.True(t, ok, in)
		require.Equal(t, want, got)
	}
	for _, in := range []string{"0", "", "x", "-1"} {
		_, ok := UARTType(in)
		require.False(t, ok, in)
	}
}

func TestParseHexID(t *testing.T) {
	for in, want := range map[string]string{"0403": "0403", "0x8086\n": "8086", "0X1AF4": "1af4", "abc": "0abc", "0x0": "0000"} {
		got, ok := ParseHexID(in, 4)
		require.True(t, ok, in)
		require.Equal(t, want, got)
	}
	for _, in := range []string{"", "0x", "12345", "xyz", "-1", "+1", "0x-1"} {
		_, ok := ParseHexID(in, 4)
		require.False(t, ok, in)
	}
}

func TestCleanAttr(t *testing.T) {
	for in, want := range map[string]string{
		"FT232R USB UART\n":             "FT232R USB UART",
		"Cruzer Blade    \n":            "Cruzer Blade",
		"a\tb\r\nc":                     "a b c",
		"ok\x00secret":                  "ok",
		"bad\xffutf8":                   "bad\uFFFDutf8",
		"\u202eevil":                    "evil", // a bidi override is not printable
		strings.Repeat("é", 200) + "\n": strings.Repeat("é", MaxValueBytes/2),
	} {
		require.Equal(t, want, CleanAttr([]byte(in)), "%q", in)
	}
}

func TestLooksLikeUSBDevice(t *testing.T) {
	for _, ok := range []string{"usb1", "1-1", "3-1.4.2", "10-12"} {
		require.True(t, looksLikeUSBDevice(ok), ok)
	}
	for _, no := range []string{"1-1:1.0", "usb", "usbx", "1-", "-1", "1-1.", "0000:00:14.0", "host6"} {
		require.False(t, looksLikeUSBDevice(no), no)
	}
}

func TestErrorsWrap(t *testing.T) {
	_, err := newTestPoller(t.TempDir(), 0).Poll(context.Background())
	require.True(t, errors.Is(err, fs.ErrNotExist), "%v", err)
}
