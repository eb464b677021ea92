package detect

import (
	"testing"

	"github.com/edgesec/edgesec/collector/connection"
	"github.com/edgesec/edgesec/collector/firewall"
	"github.com/edgesec/edgesec/collector/hardware"
	"github.com/edgesec/edgesec/collector/kernel"
	"github.com/edgesec/edgesec/collector/listening"
	logincol "github.com/edgesec/edgesec/collector/login"
	"github.com/edgesec/edgesec/collector/process"
)

// TestKeysMatchCollectors: the ExtraDetails keys the rules read are the
// ones the collectors write.
func TestKeysMatchCollectors(t *testing.T) {
	pairs := [][2]string{
		{keyContainerID, process.KeyContainerID}, {keyModuleName, process.KeyModuleName}, {keyParentExe, process.KeyParentExecutable},
		{keyParentComm, process.KeyParentComm}, {keyComm, process.KeyComm},
		{keyContainerID, connection.KeyContainerID}, {keyModuleName, connection.KeyModuleName},
		{keyInvalidUser, logincol.KeyInvalidUser}, {keyRepeat, logincol.KeyRepeat},
		{keyPolicy, firewall.KeyPolicy}, {keyHook, firewall.KeyHook}, {keyFamily, firewall.KeyFamily}, {keyTable, firewall.KeyTable},
		{keySource, firewall.KeySource}, {keyState, firewall.KeyState}, {keyInInterface, firewall.KeyInInterface},
		{keyOutInterface, firewall.KeyOutInterface}, {keyRule, firewall.KeyRule}, {keyUndecoded, firewall.KeyUndecoded}, {keyPorts, firewall.KeyPorts},
		{keyProcessID, listening.KeyProcessID}, {keyExecutable, listening.KeyExecutable}, {keyCommandLine, listening.KeyCommandLine},
		{keyUserName, listening.KeyUserName}, {keyContainerID, listening.KeyContainerID}, {keyModuleName, listening.KeyModuleName},
		{keyMassStorage, hardware.KeyMassStorage}, {keyHID, hardware.KeyHID}, {keyVendorID, hardware.KeyVendorID}, {keyProductID, hardware.KeyProductID},
		{keySerialNumber, hardware.KeySerialNumber}, {keyPort, hardware.KeyPort}, {keyProduct, hardware.KeyProduct},
		{keyManufacturer, hardware.KeyManufacturer}, {keyKeyboard, hardware.KeyKeyboard},
		{keyContainerID, kernel.KeyContainerID}, {keyModuleName, kernel.KeyModuleName}, {keyComm, kernel.KeyComm}, {keyMode, kernel.KeyMode},
		{keyParentExe, kernel.KeyParentExecutable}, {keyParentComm, kernel.KeyParentComm},
	}
	for _, p := range pairs {
		if p[0] != p[1] {
			t.Errorf("detect reads %q, the collector writes %q", p[0], p[1])
		}
	}
}
