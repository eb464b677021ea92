package hardware

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/edgesec/edgesec/event"
)

// HardwareCategory values.
const (
	CategoryUSB     = "USB"
	CategoryPCI     = "PCI"
	CategorySerial  = "Serial"
	CategoryStorage = "Storage"
	CategoryNetwork = "Network"
	CategoryVideo   = "Video"
)

// ExtraDetails keys. A key is present only when sysfs had the value.
const (
	KeyVendorID          = "VendorId"          // USB idVendor or PCI vendor, 4 lowercase hex digits
	KeyProductID         = "ProductId"         // USB idProduct, 4 hex digits
	KeyDeviceID          = "DeviceId"          // PCI device, 4 hex digits
	KeySubsystemVendorID = "SubsystemVendorId" // PCI
	KeySubsystemDeviceID = "SubsystemDeviceId" // PCI
	KeyClass             = "Class"             // PCI class code, 6 hex digits
	KeyRevision          = "Revision"          // PCI revision, 2 hex digits
	KeyAddress           = "Address"           // PCI address ("0000:00:14.0")
	KeyManufacturer      = "Manufacturer"      // USB iManufacturer string (device-supplied)
	KeyProduct           = "Product"           // USB iProduct string (device-supplied)
	KeySerialNumber      = "SerialNumber"      // USB iSerialNumber, disk or SD card serial: an identifier
	KeyPort              = "Port"              // USB port path in sysfs ("1-1.2", "usb1" for a root hub)
	KeyBusNumber         = "BusNumber"         // USB bus number
	KeyDeviceNumber      = "DeviceNumber"      // USB device number on its bus
	KeySpeed             = "Speed"             // USB link speed in Mbit/s
	KeyUSBVersion        = "UsbVersion"        // USB version the device declares ("2.00")
	KeyDeviceClass       = "DeviceClass"       // USB bDeviceClass name
	KeyInterfaceClasses  = "InterfaceClasses"  // USB interface class names, ";"-separated
	KeyDrivers           = "Drivers"           // USB interface drivers, ";"-separated
	KeyAuthorized        = "Authorized"        // "false" when the device is deauthorized (USBGuard); absent otherwise
	KeyRootHub           = "RootHub"           // "true" for a host controller's root hub
	KeyMassStorage       = "MassStorage"       // "true": a USB mass storage interface (data exfiltration, malware)
	KeyHID               = "HID"               // "true": a USB HID interface (injected keyboards)
	KeyKeyboard          = "Keyboard"          // "true": a HID boot-protocol keyboard interface
	KeyDriver            = "Driver"            // kernel driver bound to the device
	KeyDevice            = "Device"            // device node ("/dev/ttyUSB0", "/dev/sda")
	KeyDevices           = "Devices"           // device nodes of one video device, ";"-separated
	KeyUARTType          = "UartType"          // serial_core port type ("16550A")
	KeyIOPort            = "IoPort"            // UART I/O port ("0x3F8")
	KeyIRQ               = "Irq"               // UART interrupt line
	KeyConnection        = "Connection"        // "USB" when the device sits behind a USB device
	KeyUSBPort           = "UsbPort"           // that USB device's port (matches the USB item's Port)
	KeyUSBVendorID       = "UsbVendorId"       // that USB device's idVendor
	KeyUSBProductID      = "UsbProductId"      // that USB device's idProduct
	KeySizeBytes         = "SizeBytes"         // block device size
	KeyRemovable         = "Removable"         // "true" or "false": the kernel's removable-media flag
	KeyReadOnly          = "ReadOnly"          // "true" or "false"
	KeyVendor            = "Vendor"            // SCSI vendor string of a disk
	KeyModel             = "Model"             // disk model, or SD/MMC card name
	KeyInterface         = "Interface"         // network interface name
	KeyMACAddress        = "MacAddress"        // network interface address: an identifier
	KeyOperState         = "OperState"         // "up", "down" …
	KeyBus               = "Bus"               // bus of a network interface's device ("pci", "usb", "spi" …)
)

// Device is one piece of connected hardware, as Scan found it.
type Device struct {
	Category    string // CategoryUSB … CategoryVideo
	SubCategory string
	Name        string
	Details     event.ExtraDetails
}

// Item returns the ConnectedHardware payload item of d.
func (d *Device) Item() *event.ConnectedHardwarePayload {
	return &event.ConnectedHardwarePayload{
		HardwareCategory:    d.Category,
		HardwareSubCategory: d.SubCategory,
		HardwareName:        d.Name,
		ExtraDetails:        d.Details,
	}
}

// Items returns the ConnectedHardware payload items of devs, in order.
func Items(devs []Device) []event.Item {
	items := make([]event.Item, len(devs))
	for i := range devs {
		items[i] = devs[i].Item()
	}
	return items
}

// ErrNoSysfs reports a sysfs tree without any of class/, bus/ and
// devices/: sysfs is not mounted there (a container given the host's /
// without its /sys submount, for instance).
var ErrNoSysfs = errors.New("no sysfs (class, bus and devices are all missing)")

// ScanError reports what Scan could not read. The devices returned
// alongside it are valid; those whose directory or attributes were
// unreadable may be missing or lack details.
type ScanError struct {
	Unreadable int    // directories or attributes that exist but could not be read
	First      string // the first of them, with its error
	Dropped    int    // directory entries beyond MaxDevicesPerSource
}

// Error implements error.
func (e *ScanError) Error() string {
	var parts []string
	if e.Unreadable > 0 {
		parts = append(parts, fmt.Sprintf("%d sysfs file(s) unreadable (first: %s)", e.Unreadable, e.First))
	}
	if e.Dropped > 0 {
		parts = append(parts, fmt.Sprintf("%d device(s) beyond the limit of %d per directory dropped", e.Dropped, MaxDevicesPerSource))
	}
	return strings.Join(parts, "; ")
}

// Scan reads the connected hardware from sysfs: fsys is rooted at the
// sysfs mount (what the host sees as /sys). It reports, in this order,
// USB devices (bus/usb/devices), PCI devices (bus/pci/devices), serial
// ports with hardware behind them (class/tty), block devices with a
// device (block), network interfaces with a device (class/net) and video
// devices (class/video4linux), each category in directory order.
// Symbolic links are resolved inside fsys, which should implement
// [fs.ReadLinkFS] (os.DirFS, os.Root.FS and fstest.MapFS do); without it
// the USB ancestry of serial, storage, network and video devices is not
// reported.
//
// A missing category directory means the kernel lacks that subsystem and
// is not an error. Scan returns ErrNoSysfs when none of class, bus and
// devices exists, ctx's error when it is cancelled, and otherwise the
// devices with, when something could not be read, a *ScanError.
func Scan(ctx context.Context, fsys fs.FS) ([]Device, error) {
	s := &scanner{fsys: fsys, perr: &ScanError{}}
	if !s.exists("class") && !s.exists("bus") && !s.exists("devices") {
		return nil, ErrNoSysfs
	}
	for _, step := range []func(){s.usb, s.pci, s.serial, s.storage, s.network, s.video} {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		step()
	}
	if s.perr.Unreadable > 0 || s.perr.Dropped > 0 {
		return s.devs, s.perr
	}
	return s.devs, nil
}

type scanner struct {
	fsys fs.FS
	devs []Device
	perr *ScanError
	buf  []byte
}

func (s *scanner) unreadable(name string, err error) {
	if s.perr.Unreadable == 0 {
		s.perr.First = err.Error()
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			s.perr.First = name + ": " + s.perr.First
		}
	}
	s.perr.Unreadable++
}

// ignorable reports whether an error reading a sysfs file means only that
// the value is absent: the file does not exist, or it is one of the
// attributes the kernel refuses to read in some states.
func ignorable(err error) bool {
	return errors.Is(err, fs.ErrNotExist)
}

func (s *scanner) exists(name string) bool {
	_, err := fs.Stat(s.fsys, name)
	return err == nil
}

// attr reads and cleans the sysfs attribute name ("" when absent).
func (s *scanner) attr(name string) string {
	f, err := s.fsys.Open(name)
	if err != nil {
		if !ignorable(err) {
			s.unreadable(name, err)
		}
		return ""
	}
	defer f.Close()
	if cap(s.buf) < MaxAttrBytes {
		s.buf = make([]byte, MaxAttrBytes)
	}
	buf := s.buf[:MaxAttrBytes]
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		s.unreadable(name, err)
		return ""
	}
	return CleanAttr(buf[:n])
}

// linkBase returns the last element of the target of the symbolic link
// name ("e1000e" for device/driver), "" when it is not a link.
func (s *scanner) linkBase(name string) string {
	t, err := fs.ReadLink(s.fsys, name)
	if err != nil {
		return ""
	}
	b := path.Base(t)
	if b == "." || b == "/" || b == ".." {
		return ""
	}
	return CleanAttr([]byte(b))
}

// list returns the names in directory dir, in order, at most
// MaxDevicesPerSource of them (nil when dir does not exist).
func (s *scanner) list(dir string) []string {
	ents, err := fs.ReadDir(s.fsys, dir)
	if err != nil {
		if !ignorable(err) {
			s.unreadable(dir, err)
		}
		return nil
	}
	names := make([]string, 0, min(len(ents), MaxDevicesPerSource))
	for _, e := range ents {
		if len(names) == MaxDevicesPerSource {
			s.perr.Dropped += len(ents) - len(names)
			break
		}
		names = append(names, e.Name())
	}
	return names
}

// maxLinks is how many symbolic links one resolution follows, as the
// kernel's limit for one path lookup.
const maxLinks = 40

// resolve returns the canonical path of name inside fsys, following every
// symbolic link ("" after too many links). ".." stops at the root and an
// absolute link target is taken relative to the root, so the result never
// leaves fsys.
func (s *scanner) resolve(name string) string {
	links := 0
	var done []string
	todo := strings.Split(name, "/")
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		next := strings.Join(append(done, c), "/")
		target, err := fs.ReadLink(s.fsys, next)
		if err != nil {
			done = append(done, c)
			continue
		}
		if links++; links > maxLinks {
			return ""
		}
		if strings.HasPrefix(target, "/") {
			done = done[:0]
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return strings.Join(done, "/")
}

// usbParent returns the sysfs directory of the USB device that the device
// at canonical path canon sits behind, or "".
func (s *scanner) usbParent(canon string) string {
	for d, depth := path.Dir(canon), 0; d != "." && d != "/" && depth < 64; d, depth = path.Dir(d), depth+1 {
		if looksLikeUSBDevice(path.Base(d)) && s.exists(d+"/idVendor") {
			return d
		}
	}
	return ""
}

// looksLikeUSBDevice reports whether a sysfs name has the form of a USB
// device ("usb1", "1-1", "3-1.4.2"), not of an interface ("1-1:1.0").
func looksLikeUSBDevice(name string) bool {
	if strings.ContainsRune(name, ':') {
		return false
	}
	if rest, ok := strings.CutPrefix(name, "usb"); ok {
		_, ok := parseUint(rest)
		return ok
	}
	bus, port, ok := strings.Cut(name, "-")
	if !ok {
		return false
	}
	if _, ok := parseUint(bus); !ok {
		return false
	}
	for _, p := range strings.Split(port, ".") {
		if _, ok := parseUint(p); !ok {
			return false
		}
	}
	return true
}

// addUSBParent adds the Connection, UsbPort, UsbVendorId and UsbProductId
// details when the device whose sysfs directory is dir sits behind a USB
// device.
func (s *scanner) addUSBParent(x event.ExtraDetails, dir string) {
	u := s.usbParent(s.resolve(dir))
	if u == "" {
		return
	}
	x[KeyConnection] = CategoryUSB
	x[KeyUSBPort] = CleanAttr([]byte(path.Base(u)))
	s.hexDetail(x, KeyUSBVendorID, u+"/idVendor", 4)
	s.hexDetail(x, KeyUSBProductID, u+"/idProduct", 4)
}

func (s *scanner) hexDetail(x event.ExtraDetails, key, name string, digits int) string {
	v, ok := ParseHexID(s.attr(name), digits)
	if ok {
		x[key] = v
	}
	return v
}

func (s *scanner) detail(x event.ExtraDetails, key, name string) string {
	v := s.attr(name)
	if v != "" {
		x[key] = v
	}
	return v
}

func (s *scanner) add(category, sub, name string, x event.ExtraDetails) {
	if sub == "" {
		sub = "Unknown"
	}
	s.devs = append(s.devs, Device{Category: category, SubCategory: sub, Name: name, Details: x})
}

// appendUnique appends v to list unless it is empty or already there.
func appendUnique(list []string, v string) []string {
	if v == "" {
		return list
	}
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

func (s *scanner) usb() {
	const root = "bus/usb/devices"
	for _, name := range s.list(root) {
		if !looksLikeUSBDevice(name) {
			continue // an interface ("1-1:1.0")
		}
		dir := root + "/" + name
		x := event.ExtraDetails{KeyPort: CleanAttr([]byte(name))}
		vid := s.hexDetail(x, KeyVendorID, dir+"/idVendor", 4)
		pid := s.hexDetail(x, KeyProductID, dir+"/idProduct", 4)
		if vid == "" && pid == "" {
			continue // not a device: the directory is empty or unreadable
		}
		manufacturer := s.detail(x, KeyManufacturer, dir+"/manufacturer")
		product := s.detail(x, KeyProduct, dir+"/product")
		s.detail(x, KeySerialNumber, dir+"/serial")
		s.detail(x, KeyBusNumber, dir+"/busnum")
		s.detail(x, KeyDeviceNumber, dir+"/devnum")
		s.detail(x, KeySpeed, dir+"/speed")
		s.detail(x, KeyUSBVersion, dir+"/version")
		if strings.HasPrefix(name, "usb") {
			x[KeyRootHub] = "true"
		}
		if s.attr(dir+"/authorized") == "0" {
			x[KeyAuthorized] = "false"
		}
		devClass, _ := parseHexByte(s.attr(dir + "/bDeviceClass"))
		if n := USBClassName(devClass); n != "" {
			x[KeyDeviceClass] = n
		}

		var classes []uint8
		var classNames, drivers []string
		prefix := name + ":"
		if bus, ok := strings.CutPrefix(name, "usb"); ok {
			prefix = bus + "-0:" // a root hub's interfaces: usb1 has 1-0:1.0
		}
		for _, ifname := range s.list(dir) {
			if !strings.HasPrefix(ifname, prefix) {
				continue
			}
			ifdir := dir + "/" + ifname
			class, ok := parseHexByte(s.attr(ifdir + "/bInterfaceClass"))
			if !ok {
				continue
			}
			classes = append(classes, class)
			classNames = appendUnique(classNames, USBClassName(class))
			drivers = appendUnique(drivers, s.linkBase(ifdir+"/driver"))
			if class == USBClassHID {
				sub, _ := parseHexByte(s.attr(ifdir + "/bInterfaceSubClass"))
				proto, _ := parseHexByte(s.attr(ifdir + "/bInterfaceProtocol"))
				if sub == 1 && proto == 1 {
					x[KeyKeyboard] = "true"
				}
			}
		}
		for _, c := range append(classes, devClass) {
			switch c {
			case USBClassMassStorage:
				x[KeyMassStorage] = "true"
			case USBClassHID:
				x[KeyHID] = "true"
			}
		}
		if len(classNames) > 0 {
			x[KeyInterfaceClasses] = strings.Join(classNames, ";")
		}
		if len(drivers) > 0 {
			x[KeyDrivers] = strings.Join(drivers, ";")
		}

		hwName := product
		if hwName == "" {
			hwName = manufacturer
		}
		if hwName == "" {
			hwName = "USB device " + vid + ":" + pid
		}
		sub := USBSubCategory(devClass, classes)
		if sub == USBClassName(USBClassVendor) {
			sub = usbDriverSubCategory(drivers, sub)
		}
		s.add(CategoryUSB, sub, hwName, x)
	}
}

// usbDriverKinds names vendor-specific USB devices by the driver bound to
// them: their class says nothing, their driver says what they are.
var usbDriverKinds = map[string]string{
	"ftdi_sio": "Serial Adapter", "cp210x": "Serial Adapter", "pl2303": "Serial Adapter", "ch341": "Serial Adapter",
	"xr_serial": "Serial Adapter", "ti_usb_3410_5052": "Serial Adapter", "io_ti": "Serial Adapter",
	"mos7840": "Serial Adapter", "usb_serial_simple": "Serial Adapter", "keyspan": "Serial Adapter",
	"option": "Cellular Modem", "qcserial": "Cellular Modem", "sierra": "Cellular Modem", "qmi_wwan": "Cellular Modem",
	"r8152": "Network Adapter", "ax88179_178a": "Network Adapter", "asix": "Network Adapter",
	"smsc95xx": "Network Adapter", "lan78xx": "Network Adapter", "cdc_ether": "Network Adapter",
	"cdc_ncm": "Network Adapter", "rndis_host": "Network Adapter",
	"gs_usb": "CAN Adapter", "peak_usb": "CAN Adapter", "kvaser_usb": "CAN Adapter", "ems_usb": "CAN Adapter",
}

// usbDriverSubCategory returns the kind of the first driver in
// usbDriverKinds, or def.
func usbDriverSubCategory(drivers []string, def string) string {
	for _, d := range drivers {
		if k, ok := usbDriverKinds[d]; ok {
			return k
		}
	}
	return def
}

func (s *scanner) pci() {
	const root = "bus/pci/devices"
	for _, name := range s.list(root) {
		dir := root + "/" + name
		x := event.ExtraDetails{KeyAddress: CleanAttr([]byte(name))}
		vid := s.hexDetail(x, KeyVendorID, dir+"/vendor", 4)
		did := s.hexDetail(x, KeyDeviceID, dir+"/device", 4)
		if vid == "" && did == "" {
			continue
		}
		s.hexDetail(x, KeySubsystemVendorID, dir+"/subsystem_vendor", 4)
		s.hexDetail(x, KeySubsystemDeviceID, dir+"/subsystem_device", 4)
		s.hexDetail(x, KeyRevision, dir+"/revision", 2)
		sub := "Unknown"
		if class := s.hexDetail(x, KeyClass, dir+"/class", 6); class != "" {
			code, _ := strconv.ParseUint(class, 16, 32)
			sub = PCIClassName(uint32(code))
		}
		if d := s.linkBase(dir + "/driver"); d != "" {
			x[KeyDriver] = d
		}
		s.add(CategoryPCI, sub, sub+" "+vid+":"+did, x)
	}
}

func (s *scanner) serial() {
	const root = "class/tty"
	for _, name := range s.list(root) {
		dir := root + "/" + name
		if !s.exists(dir + "/device") {
			continue // a virtual terminal, pty or console
		}
		x := event.ExtraDetails{}
		if s.exists(dir + "/type") {
			t, ok := UARTType(s.attr(dir + "/type"))
			if !ok {
				continue // a port the kernel registered with no UART behind it
			}
			x[KeyUARTType] = t
		}
		clean := CleanAttr([]byte(name))
		x[KeyDevice] = "/dev/" + clean
		if p := s.attr(dir + "/port"); p != "" && p != "0x0" {
			x[KeyIOPort] = p
		}
		if irq := s.attr(dir + "/irq"); irq != "" && irq != "0" {
			x[KeyIRQ] = irq
		}
		if d := s.serialDriver(dir + "/device"); d != "" {
			x[KeyDriver] = d
		}
		s.addUSBParent(x, dir)
		s.add(CategorySerial, SerialSubCategory(name), clean, x)
	}
}

// serialDriver returns the driver of a tty's device. Since Linux 6.5 the
// device of a UART is a serial-base port whose driver is "port", under a
// serial-base controller ("ctrl"); the hardware's driver ("serial",
// "serial8250", "dw-apb-uart") is that of the controller's parent.
func (s *scanner) serialDriver(device string) string {
	d := s.resolve(device)
	for range 3 {
		if d == "" || s.linkBase(d+"/subsystem") != "serial-base" {
			break
		}
		d = path.Dir(d)
	}
	if d == "" {
		return ""
	}
	return s.linkBase(d + "/driver")
}

func (s *scanner) storage() {
	const root = "block"
	for _, name := range s.list(root) {
		dir := root + "/" + name
		if !s.exists(dir + "/device") {
			continue // loop, zram, device-mapper, md: not hardware
		}
		clean := CleanAttr([]byte(name))
		x := event.ExtraDetails{KeyDevice: "/dev/" + clean}
		if n, ok := parseUint(s.attr(dir + "/size")); ok && n <= 1<<54 {
			x[KeySizeBytes] = strconv.FormatUint(n*512, 10)
		}
		removable := s.attr(dir+"/removable") == "1"
		x[KeyRemovable] = strconv.FormatBool(removable)
		x[KeyReadOnly] = strconv.FormatBool(s.attr(dir+"/ro") == "1")
		if v := s.attr(dir + "/device/vendor"); v != "" && !strings.HasPrefix(v, "0x") {
			x[KeyVendor] = v // a SCSI vendor string, not a virtio vendor id
		}
		model := s.detail(x, KeyModel, dir+"/device/model")
		s.detail(x, KeySerialNumber, dir+"/device/serial")
		s.addUSBParent(x, dir)

		var sub string
		switch {
		case strings.HasPrefix(name, "mmcblk"):
			if model == "" {
				model = s.detail(x, KeyModel, dir+"/device/name")
			}
			switch s.attr(dir + "/device/type") {
			case "SD":
				sub = "SD Card"
			case "MMC":
				sub = "eMMC"
			default:
				sub = "MMC"
			}
		case strings.HasPrefix(name, "sr") || s.attr(dir+"/device/type") == "5":
			sub = "CD-ROM"
		case x[KeyConnection] == CategoryUSB:
			sub = "USB Disk"
		case strings.HasPrefix(name, "nvme"):
			sub = "NVMe"
		case removable:
			sub = "Removable Disk"
		default:
			sub = "Disk"
		}
		hwName := model
		if v := x[KeyVendor]; v != "" && model != "" {
			hwName = v + " " + model
		}
		if hwName == "" {
			hwName = clean
		}
		s.add(CategoryStorage, sub, hwName, x)
	}
}

func (s *scanner) network() {
	const root = "class/net"
	for _, name := range s.list(root) {
		dir := root + "/" + name
		if !s.exists(dir + "/device") {
			continue // lo, bridges, veth, tunnels: not hardware
		}
		clean := CleanAttr([]byte(name))
		x := event.ExtraDetails{KeyInterface: clean}
		s.detail(x, KeyMACAddress, dir+"/address")
		s.detail(x, KeyOperState, dir+"/operstate")
		driver := s.linkBase(dir + "/device/driver")
		if driver != "" {
			x[KeyDriver] = driver
		}
		if b := s.linkBase(dir + "/device/subsystem"); b != "" {
			x[KeyBus] = b
		}
		arp, _ := parseUint(s.attr(dir + "/type"))
		wireless := s.exists(dir+"/wireless") || s.exists(dir+"/phy80211")
		s.addUSBParent(x, dir)
		s.add(CategoryNetwork, NetworkSubCategory(arp, driver, wireless), clean, x)
	}
}

// cameraDrivers are video4linux drivers of image sensors and capture
// interfaces.
var cameraDrivers = map[string]bool{
	"uvcvideo": true, "unicam": true, "rkcif": true, "rkisp1": true, "tegra-video": true, "imx7-csi": true,
	"imx-media": true, "sun6i-csi": true, "stm32-dcmi": true, "mxc-mipi-csi2": true, "ipu3-cio2": true,
	"intel-ipu6": true, "gspca_main": true,
}

// videoSubCategory classifies a video4linux device by its driver.
func videoSubCategory(driver string) string {
	switch {
	case cameraDrivers[driver] || strings.HasPrefix(driver, "gspca"):
		return "Camera"
	case strings.Contains(driver, "codec") || strings.Contains(driver, "vpu") || strings.Contains(driver, "jpeg"):
		return "Codec"
	}
	return "Video Device"
}

func (s *scanner) video() {
	const root = "class/video4linux"
	byDevice := make(map[string]int) // canonical device path → index in s.devs
	for _, name := range s.list(root) {
		dir := root + "/" + name
		if !s.exists(dir + "/device") {
			continue
		}
		node := "/dev/" + CleanAttr([]byte(name))
		dev := s.resolve(dir + "/device")
		if i, ok := byDevice[dev]; ok && dev != "" {
			// A second node of one device (a UVC camera's metadata node).
			x := s.devs[i].Details
			x[KeyDevices] += ";" + node
			continue
		}
		x := event.ExtraDetails{KeyDevices: node}
		hwName := s.attr(dir + "/name")
		if hwName == "" {
			hwName = path.Base(node)
		}
		driver := s.linkBase(dir + "/device/driver")
		if driver != "" {
			x[KeyDriver] = driver
		}
		s.addUSBParent(x, dir)
		byDevice[dev] = len(s.devs)
		s.add(CategoryVideo, videoSubCategory(driver), hwName, x)
	}
}
