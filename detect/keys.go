package detect

// ExtraDetails keys the built-in rules read. They are the collectors'
// (collector/process, listening, connection, login, firewall, hardware);
// they are repeated here so that detect links no collector code, and a test
// checks they match.
const (
	keyContainerID  = "ContainerId"
	keyModuleName   = "ModuleName"
	keyParentExe    = "ParentExecutable"
	keyParentComm   = "ParentComm"
	keyComm         = "Comm"
	keyInvalidUser  = "InvalidUser"
	keyRepeat       = "RepeatCount"
	keyPolicy       = "ChainPolicy"
	keyHook         = "Hook"
	keyFamily       = "Family"
	keyTable        = "Table"
	keySource       = "Source"
	keyState        = "State"
	keyInInterface  = "InInterface"
	keyOutInterface = "OutInterface"
	keyRule         = "Rule"
	keyUndecoded    = "Undecoded"
	keyPorts        = "Ports"
	keyProcessID    = "ProcessId"
	keyExecutable   = "Executable"
	keyCommandLine  = "CommandLine"
	keyUserName     = "UserName"
	keyMassStorage  = "MassStorage"
	keyHID          = "HID"
	keyVendorID     = "VendorId"
	keyProductID    = "ProductId"
	keySerialNumber = "SerialNumber"
	keyPort         = "Port"
	keyProduct      = "Product"
	keyManufacturer = "Manufacturer"
	keyKeyboard     = "Keyboard"
	keyMode         = "Mode"
)
