package hardware

// GatewayRoot builds the gateway fixture (testdata/gateway.sysfs) in a
// temporary directory and returns the host root, for the external tests.
var GatewayRoot = gatewayRoot
