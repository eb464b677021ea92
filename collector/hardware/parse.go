package hardware

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits that keep the scan's memory bounded whatever sysfs holds.
const (
	// MaxAttrBytes is how much of one sysfs attribute is read. The kernel
	// never returns more than a page for the text attributes used here.
	MaxAttrBytes = 4096
	// MaxValueBytes bounds one ExtraDetails value or hardware name after
	// sanitizing: USB string descriptors come from the device itself, and
	// a hostile device may make them as long as it likes.
	MaxValueBytes = 256
	// MaxDevicesPerSource is the most entries read from one sysfs
	// directory (such as /sys/bus/usb/devices); further entries are
	// dropped and counted in a [ScanError].
	MaxDevicesPerSource = 4096
)

// CleanAttr turns the raw content of a sysfs attribute into a value fit
// for an event: cut at the first NUL, invalid UTF-8 replaced with U+FFFD,
// control and other non-printable characters replaced with spaces, runs
// of spaces collapsed, surrounding spaces trimmed, and at most
// MaxValueBytes bytes (cut at a character boundary). USB manufacturer,
// product and serial strings are chosen by whoever built the device, so
// they are treated as hostile.
func CleanAttr(raw []byte) string {
	if i := indexByte(raw, 0); i >= 0 {
		raw = raw[:i]
	}
	var b strings.Builder
	space := false
	for len(raw) > 0 && b.Len() < MaxValueBytes {
		r, n := utf8.DecodeRune(raw)
		raw = raw[n:]
		if r == utf8.RuneError && n <= 1 {
			r = utf8.RuneError
		}
		if r == ' ' || !unicode.IsPrint(r) && r != utf8.RuneError {
			space = b.Len() > 0
			continue
		}
		need := utf8.RuneLen(r)
		if space {
			need++
		}
		if b.Len()+need > MaxValueBytes {
			break
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// ParseHexID parses a hexadecimal identifier as sysfs prints it ("0403",
// "0x8086", "0x0c0330"), of at most digits hex digits after an optional
// "0x", and returns it as lowercase hex padded to digits, or false.
func ParseHexID(s string, digits int) (string, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if s == "" || len(s) > digits {
		return "", false
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return "", false
	}
	h := strconv.FormatUint(v, 16)
	return strings.Repeat("0", digits-len(h)) + h, true
}

// parseHexByte parses a one-byte hexadecimal class code ("08", "ff").
func parseHexByte(s string) (uint8, bool) {
	h, ok := ParseHexID(s, 2)
	if !ok {
		return 0, false
	}
	v, _ := strconv.ParseUint(h, 16, 8)
	return uint8(v), true
}

// parseUint parses a decimal sysfs number ("30031872").
func parseUint(s string) (uint64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// USB class codes (usb.org "Defined Class Codes") with security meaning.
const (
	USBClassPerInterface  = 0x00
	USBClassAudio         = 0x01
	USBClassComm          = 0x02
	USBClassHID           = 0x03
	USBClassMassStorage   = 0x08
	USBClassHub           = 0x09
	USBClassCDCData       = 0x0a
	USBClassVideo         = 0x0e
	USBClassWireless      = 0xe0
	USBClassMiscellaneous = 0xef
	USBClassVendor        = 0xff
)

var usbClassNames = map[uint8]string{
	0x01: "Audio",
	0x02: "Communications",
	0x03: "HID",
	0x05: "Physical",
	0x06: "Image",
	0x07: "Printer",
	0x08: "Mass Storage",
	0x09: "Hub",
	0x0a: "CDC Data",
	0x0b: "Smart Card",
	0x0d: "Content Security",
	0x0e: "Video",
	0x0f: "Personal Healthcare",
	0x10: "Audio/Video",
	0x11: "Billboard",
	0x12: "USB Type-C Bridge",
	0xdc: "Diagnostic",
	0xe0: "Wireless Controller",
	0xef: "Miscellaneous",
	0xfe: "Application Specific",
	0xff: "Vendor Specific",
}

// USBClassName names a USB device or interface class code: "Mass
// Storage", "HID", "Communications", "Hub" …, "Class xx" for codes
// usb.org does not define, "" for 0x00 (class defined per interface).
func USBClassName(class uint8) string {
	if class == USBClassPerInterface {
		return ""
	}
	if n, ok := usbClassNames[class]; ok {
		return n
	}
	return "Class " + hex2(class)
}

// usbClassRank orders interface classes when a device has several: the
// first that a security reviewer cares about names the device.
var usbClassRank = []uint8{
	USBClassMassStorage, USBClassHID, USBClassComm, USBClassWireless, USBClassVideo, USBClassAudio,
	0x07, 0x06, 0x0b, USBClassHub, USBClassCDCData,
}

// USBSubCategory picks the HardwareSubCategory of a USB device from its
// bDeviceClass and the bInterfaceClass of its interfaces: the device class
// when it names one (other than Miscellaneous and Vendor Specific, which
// say nothing), else the most security-relevant interface class (Mass
// Storage, then HID, Communications, Wireless Controller, Video, Audio …),
// else the device class, else "Unknown".
func USBSubCategory(deviceClass uint8, interfaceClasses []uint8) string {
	if deviceClass != USBClassPerInterface && deviceClass != USBClassMiscellaneous && deviceClass != USBClassVendor {
		return USBClassName(deviceClass)
	}
	for _, c := range usbClassRank {
		for _, ic := range interfaceClasses {
			if ic == c {
				return USBClassName(c)
			}
		}
	}
	for _, ic := range interfaceClasses {
		if n := USBClassName(ic); n != "" {
			return n
		}
	}
	if n := USBClassName(deviceClass); n != "" {
		return n
	}
	return "Unknown"
}

// PCI class names, from the PCI Code and ID Assignment Specification:
// subclasses first (class<<8|subclass), then base classes.
var pciSubclassNames = map[uint16]string{
	0x0100: "SCSI Controller",
	0x0101: "IDE Controller",
	0x0104: "RAID Controller",
	0x0106: "SATA Controller",
	0x0107: "SAS Controller",
	0x0108: "NVMe Controller",
	0x0200: "Ethernet Controller",
	0x0280: "Network Controller",
	0x0300: "VGA Controller",
	0x0302: "3D Controller",
	0x0401: "Audio Controller",
	0x0403: "Audio Device",
	0x0600: "Host Bridge",
	0x0601: "ISA Bridge",
	0x0604: "PCI Bridge",
	0x0700: "Serial Controller",
	0x0703: "Modem",
	0x0880: "System Peripheral",
	0x0c03: "USB Controller",
	0x0c05: "SMBus Controller",
	0x0c07: "IPMI Interface",
	0x0c09: "CAN Controller",
	0x0d00: "IRDA Controller",
	0x0d11: "Bluetooth Controller",
	0x0d80: "Wireless Controller",
	0x1080: "Encryption Controller",
	0x1180: "Signal Processing Controller",
}

var pciClassNames = map[uint8]string{
	0x00: "Unclassified Device",
	0x01: "Mass Storage Controller",
	0x02: "Network Controller",
	0x03: "Display Controller",
	0x04: "Multimedia Controller",
	0x05: "Memory Controller",
	0x06: "Bridge",
	0x07: "Communication Controller",
	0x08: "Generic System Peripheral",
	0x09: "Input Device Controller",
	0x0a: "Docking Station",
	0x0b: "Processor",
	0x0c: "Serial Bus Controller",
	0x0d: "Wireless Controller",
	0x0e: "Intelligent Controller",
	0x0f: "Satellite Communications Controller",
	0x10: "Encryption Controller",
	0x11: "Signal Processing Controller",
	0x12: "Processing Accelerator",
	0x13: "Non-Essential Instrumentation",
	0x40: "Coprocessor",
	0xff: "Unassigned Class",
}

// PCIClassName names a PCI device by its 24-bit class code (class,
// subclass, programming interface, as in /sys/bus/pci/devices/*/class):
// the subclass name when known ("Ethernet Controller", "USB Controller"),
// else the base class name ("Bridge"), else "Class xx".
func PCIClassName(code uint32) string {
	if n, ok := pciSubclassNames[uint16(code>>8)]; ok {
		return n
	}
	base := uint8(code >> 16)
	if n, ok := pciClassNames[base]; ok {
		return n
	}
	return "Class " + hex2(base)
}

// uartTypes names the serial_core port types (include/uapi/linux/serial_core.h)
// found on gateways; others are reported by number.
var uartTypes = map[uint64]string{
	1: "8250", 2: "16450", 3: "16550", 4: "16550A", 5: "Cirrus", 6: "16650", 7: "16650V2",
	8: "16750", 9: "Startech", 10: "16C950", 11: "16654", 12: "16850", 13: "RSA", 14: "NS16550A",
	15: "XScale", 32: "IMX", 39: "SCIF", 53: "OMAP", 64: "MAX3100", 83: "AMBA", 95: "BCM63xx",
}

// UARTType names the value of /sys/class/tty/*/type, reporting false for
// 0 (PORT_UNKNOWN: the kernel registered the port but found no UART
// behind it) and for values that are not numbers.
func UARTType(s string) (string, bool) {
	v, ok := parseUint(s)
	if !ok || v == 0 {
		return "", false
	}
	if n, ok := uartTypes[v]; ok {
		return n, true
	}
	return strconv.FormatUint(v, 10), true
}

// serialPrefixes are the tty name prefixes of serial hardware, with their
// HardwareSubCategory.
var serialPrefixes = []struct{ prefix, sub string }{
	{"ttyUSB", "USB Serial"},
	{"ttyACM", "USB CDC ACM"},
	{"ttyXRUSB", "USB Serial"},
	{"ttyGS", "USB Gadget Serial"},
	{"rfcomm", "Bluetooth Serial"},
}

// SerialSubCategory returns the HardwareSubCategory of a serial tty from
// its name: "USB Serial" (ttyUSB, ttyXRUSB), "USB CDC ACM" (ttyACM), "USB
// Gadget Serial" (ttyGS), "Bluetooth Serial" (rfcomm), "UART" otherwise
// (ttyS, ttyAMA, ttymxc, ttyO, ttyTHS …).
func SerialSubCategory(name string) string {
	for _, p := range serialPrefixes {
		if strings.HasPrefix(name, p.prefix) {
			return p.sub
		}
	}
	return "UART"
}

// ARPHRD values of /sys/class/net/*/type (include/uapi/linux/if_arp.h).
const (
	arphrdEther     = 1
	arphrdCAN       = 280
	arphrdIEEE80211 = 801
	arphrdRawIP     = 519
	arphrdNone      = 0xfffe
)

// NetworkSubCategory returns the HardwareSubCategory of a network
// interface from its ARPHRD type, its driver and whether it is a wireless
// (cfg80211) device: "Wireless", "CAN", "Cellular" (raw-IP WWAN or a
// WWAN driver), "Ethernet" or "Adapter".
func NetworkSubCategory(arpType uint64, driver string, wireless bool) string {
	switch {
	case wireless || arpType == arphrdIEEE80211:
		return "Wireless"
	case arpType == arphrdCAN:
		return "CAN"
	case arpType == arphrdRawIP || wwanDrivers[driver]:
		return "Cellular"
	case arpType == arphrdEther:
		return "Ethernet"
	}
	return "Adapter"
}

var wwanDrivers = map[string]bool{
	"qmi_wwan": true, "cdc_mbim": true, "huawei_cdc_ncm": true, "sierra_net": true, "mhi_net": true, "mhi-pci-generic": true,
}

func hex2(v uint8) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[v>>4], digits[v&15]})
}
