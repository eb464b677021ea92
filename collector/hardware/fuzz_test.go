package hardware

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"
	"unicode/utf8"

	"github.com/edgesec/edgesec/event"
)

func FuzzCleanAttr(f *testing.F) {
	for _, s := range []string{"FT232R USB UART\n", "Rubber\tDucky\x1b[31m\x01 ", "Evil\xffCorp\x00hidden", "", " \n", "\u202e"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s := CleanAttr(raw)
		if !utf8.ValidString(s) || len(s) > MaxValueBytes || s != strings.TrimSpace(s) || strings.Contains(s, "  ") {
			t.Fatalf("CleanAttr(%q) = %q", raw, s)
		}
		for _, r := range s {
			if r != ' ' && !unicode.IsPrint(r) && r != utf8.RuneError {
				t.Fatalf("CleanAttr(%q) = %q holds %U", raw, s, r)
			}
		}
		if again := CleanAttr([]byte(s)); again != s {
			t.Fatalf("not idempotent: %q → %q → %q", raw, s, again)
		}
	})
}

// attrSlots are the attributes the fuzzer fills, in order, in a tree
// with one device of each category.
var attrSlots = []string{
	"devices/u/1-1/idVendor", "devices/u/1-1/idProduct", "devices/u/1-1/product", "devices/u/1-1/manufacturer",
	"devices/u/1-1/serial", "devices/u/1-1/bDeviceClass", "devices/u/1-1/authorized", "devices/u/1-1/speed",
	"devices/u/1-1/1-1:1.0/bInterfaceClass", "devices/u/1-1/1-1:1.0/bInterfaceSubClass", "devices/u/1-1/1-1:1.0/bInterfaceProtocol",
	"devices/p/0000:00:01.0/vendor", "devices/p/0000:00:01.0/device", "devices/p/0000:00:01.0/class", "devices/p/0000:00:01.0/revision",
	"devices/u/1-1/1-1:1.0/tty/ttyUSB0/type", "devices/u/1-1/1-1:1.0/tty/ttyUSB0/port", "devices/u/1-1/1-1:1.0/tty/ttyUSB0/irq",
	"devices/u/1-1/1-1:1.0/host0/block/sda/size", "devices/u/1-1/1-1:1.0/host0/block/sda/removable",
	"devices/u/1-1/1-1:1.0/host0/vendor", "devices/u/1-1/1-1:1.0/host0/model", "devices/u/1-1/1-1:1.0/host0/type",
	"devices/u/1-1/1-1:1.0/net/eth0/address", "devices/u/1-1/1-1:1.0/net/eth0/type", "devices/u/1-1/1-1:1.0/net/eth0/operstate",
	"devices/u/1-1/1-1:1.0/video4linux/video0/name",
}

// attrTree returns the fuzz tree with the values of data (split at 0x1e)
// in attrSlots and driver names taken from the values too.
func attrTree(data []byte) fstest.MapFS {
	vals := bytes.Split(data, []byte{0x1e})
	link := func(target string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink | 0o777}
	}
	m := fstest.MapFS{
		"bus/usb/devices/1-1":                             link("../../../devices/u/1-1"),
		"bus/usb/devices/1-1:1.0":                         link("../../../devices/u/1-1/1-1:1.0"),
		"bus/pci/devices/0000:00:01.0":                    link("../../../devices/p/0000:00:01.0"),
		"class/tty/ttyUSB0":                               link("../../devices/u/1-1/1-1:1.0/tty/ttyUSB0"),
		"devices/u/1-1/1-1:1.0/tty/ttyUSB0/device":        link("../../../1-1:1.0"),
		"block/sda":                                       link("../devices/u/1-1/1-1:1.0/host0/block/sda"),
		"devices/u/1-1/1-1:1.0/host0/block/sda/device":    link("../../../host0"),
		"class/net/eth0":                                  link("../../devices/u/1-1/1-1:1.0/net/eth0"),
		"devices/u/1-1/1-1:1.0/net/eth0/device":           link("../../../1-1:1.0"),
		"class/video4linux/video0":                        link("../../devices/u/1-1/1-1:1.0/video4linux/video0"),
		"devices/u/1-1/1-1:1.0/video4linux/video0/device": link("../../../1-1:1.0"),
	}
	for i, p := range attrSlots {
		if i < len(vals) {
			m[p] = &fstest.MapFile{Data: vals[i], Mode: 0o444}
		}
	}
	if len(vals) > len(attrSlots) {
		// The rest names the drivers: link targets are data too.
		d := string(vals[len(attrSlots)])
		m["devices/u/1-1/1-1:1.0/driver"] = link("../../../../bus/usb/drivers/" + d)
		m["devices/p/0000:00:01.0/driver"] = link(d)
	}
	return m
}

func FuzzScanAttributes(f *testing.F) {
	seed := func(vals ...string) { f.Add([]byte(strings.Join(vals, "\x1e"))) }
	seed("0403\n", "6001\n", "FT232R USB UART\n", "FTDI\n", "A50285BI\n", "00\n", "1\n", "12\n", "ff\n", "ff\n", "ff\n",
		"0x8086\n", "0x15be\n", "0x020000\n", "0x30\n", "4\n", "0x3F8\n", "4\n", "30031872\n", "1\n",
		"SanDisk \n", "Cruzer Blade    \n", "0\n", "00:e0:4c:68:00:01\n", "1\n", "up\n", "C270 HD WEBCAM\n", "ftdi_sio")
	seed("zz", "", "\x00", "\xff\xfe", "", "0x", "0", "", "03", "01", "01", "0x", "0xffffffffff", "-1", "", "0", "", "", "99999999999999999999", "")
	seed("1d6b", "0002", strings.Repeat("\u202e", 300), "", "", "09", "", "", "08", "06", "50", "1af4", "1041", "ffff00")
	f.Fuzz(func(t *testing.T, data []byte) {
		devs, err := Scan(context.Background(), attrTree(data))
		if err != nil {
			t.Fatalf("Scan: %v", err) // every attribute is readable
		}
		if len(devs) > 6 {
			t.Fatalf("%d devices from a tree of 6", len(devs))
		}
		for _, it := range Items(devs) {
			js := it.AppendJSON(nil)
			if !json.Valid(js) {
				t.Fatalf("invalid JSON %q", js)
			}
			p := it.(*event.ConnectedHardwarePayload)
			if p.HardwareCategory == "" || p.HardwareSubCategory == "" || p.HardwareName == "" {
				t.Fatalf("empty required field: %s", js)
			}
			for k, v := range p.ExtraDetails {
				if !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
					t.Fatalf("%s = %q", k, v)
				}
				switch k {
				case KeyVendorID, KeyProductID, KeyDeviceID, KeyUSBVendorID, KeyUSBProductID, KeyClass, KeyRevision:
					if strings.Trim(v, "0123456789abcdef") != "" {
						t.Fatalf("%s = %q is not lowercase hex", k, v)
					}
				}
			}
		}
	})
}
