package twinconfig

import (
	"strings"
	"testing"

	"github.com/edgesec/edgesec/event"
)

func TestReferenceListsVendorKeys(t *testing.T) {
	s, err := NewSchema(event.Info{Name: "ModbusWrite", Category: event.Triggered, Type: event.Security, DefaultPriority: event.High})
	if err != nil {
		t.Fatal(err)
	}
	ref := s.Reference()
	if !strings.Contains(ref, "## Vendor event priorities") || !strings.Contains(ref, "| `eventPriorityModbusWrite` | priority | `High` |") {
		t.Fatalf("vendor key missing from the reference:\n%s", ref)
	}
	if strings.Contains(Builtin().Reference(), "## Vendor event priorities") {
		t.Fatal("the built-in reference has a vendor section")
	}
}
