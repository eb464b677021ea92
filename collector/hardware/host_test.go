package hardware_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/edgesec/edgesec/collector/hardware"
	"github.com/edgesec/edgesec/event"
)

// hostItems polls this machine, skipping when its sysfs is not there.
func hostItems(t *testing.T) []*event.ConnectedHardwarePayload {
	t.Helper()
	if _, err := os.Stat("/sys/class"); err != nil {
		t.Skipf("needs sysfs at /sys: %v", err)
	}
	evs, err := hardware.New(hardware.Options{}).Poll(context.Background())
	if err != nil {
		t.Logf("poll reported: %v", err)
	}
	require.NotEmpty(t, evs)
	var out []*event.ConnectedHardwarePayload
	for _, ev := range evs {
		for _, it := range ev.Payload {
			out = append(out, it.(*event.ConnectedHardwarePayload))
		}
	}
	return out
}

func find(items []*event.ConnectedHardwarePayload, category, key, value string) *event.ConnectedHardwarePayload {
	for _, it := range items {
		if it.HardwareCategory == category && it.ExtraDetails[key] == value {
			return it
		}
	}
	return nil
}

// physical lists the entries of a /sys class directory that have a
// device link (hardware, not virtual devices).
func physical(t *testing.T, dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "device")); err == nil {
			out = append(out, e.Name())
		}
	}
	return out
}

// Every network interface with a device is reported with the hardware
// address the kernel gives over netlink.
func TestHostNetwork(t *testing.T) {
	items := hostItems(t)
	ifs := physical(t, "/sys/class/net")
	if len(ifs) == 0 {
		t.Skip("no network interface with a device on this machine")
	}
	for _, name := range ifs {
		it := find(items, hardware.CategoryNetwork, hardware.KeyInterface, name)
		require.NotNil(t, it, "interface %s not reported", name)
		ifi, err := net.InterfaceByName(name)
		require.NoError(t, err)
		if len(ifi.HardwareAddr) > 0 {
			require.Equal(t, ifi.HardwareAddr.String(), it.ExtraDetails[hardware.KeyMACAddress], name)
		}
	}
	require.Nil(t, find(items, hardware.CategoryNetwork, hardware.KeyInterface, "lo"), "lo is not hardware")
}

// Every block device with a device is reported, with the size the
// BLKGETSIZE64 ioctl gives when the device node can be opened.
func TestHostStorage(t *testing.T) {
	items := hostItems(t)
	disks := physical(t, "/sys/block")
	if len(disks) == 0 {
		t.Skip("no block device with a device on this machine")
	}
	for _, name := range disks {
		it := find(items, hardware.CategoryStorage, hardware.KeyDevice, "/dev/"+name)
		require.NotNil(t, it, "disk %s not reported", name)
		f, err := os.Open("/dev/" + name)
		if err != nil {
			t.Logf("%s: size not cross-checked: %v", name, err)
			continue
		}
		size, err := unix.IoctlGetUint64(int(f.Fd()), unix.BLKGETSIZE64)
		f.Close()
		require.NoError(t, err)
		require.Equal(t, strconv.FormatUint(size, 10), it.ExtraDetails[hardware.KeySizeBytes], name)
	}
}

// Every PCI function is reported, with the vendor of its config space.
func TestHostPCI(t *testing.T) {
	items := hostItems(t)
	ents, err := os.ReadDir("/sys/bus/pci/devices")
	if err != nil || len(ents) == 0 {
		t.Skip("no PCI bus on this machine")
	}
	for _, e := range ents {
		it := find(items, hardware.CategoryPCI, hardware.KeyAddress, e.Name())
		require.NotNil(t, it, e.Name())
		// The first two bytes of the configuration space are the vendor id.
		cfg, err := os.ReadFile(filepath.Join("/sys/bus/pci/devices", e.Name(), "config"))
		if err != nil || len(cfg) < 2 {
			continue
		}
		vid := strconv.FormatUint(uint64(cfg[0])|uint64(cfg[1])<<8, 16)
		require.Equal(t, strings.Repeat("0", 4-len(vid))+vid, it.ExtraDetails[hardware.KeyVendorID], e.Name())
	}
}

// A legacy UART is reported exactly when TIOCGSERIAL says a UART is
// there.
func TestHostUARTs(t *testing.T) {
	items := hostItems(t)
	ttys, _ := filepath.Glob("/sys/class/tty/ttyS*")
	checked := 0
	for _, p := range ttys {
		name := filepath.Base(p)
		typ, err := serialType("/dev/" + name)
		if err != nil {
			t.Logf("%s: %v", name, err)
			continue
		}
		checked++
		it := find(items, hardware.CategorySerial, hardware.KeyDevice, "/dev/"+name)
		if typ == 0 {
			require.Nil(t, it, "%s has no UART", name)
		} else {
			require.NotNil(t, it, "%s has a UART of type %d", name, typ)
		}
	}
	if checked == 0 {
		t.Skip("needs root and a ttyS device node")
	}
}

// serialType returns the port type TIOCGSERIAL reports (0: no UART).
func serialType(dev string) (int32, error) {
	f, err := os.OpenFile(dev, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if errors.Is(err, unix.EIO) {
		return 0, nil // the 8250 driver refuses to open a port without a UART
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var ss [128]byte // struct serial_struct; type is its first int
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.TIOCGSERIAL, uintptr(unsafe.Pointer(&ss[0]))); e != 0 {
		return 0, e
	}
	return *(*int32)(unsafe.Pointer(&ss[0])), nil
}
