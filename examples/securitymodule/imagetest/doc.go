// Package imagetest runs the reference module's container image (built by
// scripts/image) on a Moby daemon with the createOptions of the module's
// deployment snippets (deploy/layered.deployment.json, and
// deploy/layered.deployment.ebpf.json for the eBPF source) and validates
// what it prints: every message is schema-valid and describes the host and
// its other containers, and with the eBPF snippet the module loads the
// kernel programs inside its container. It has no non-test code.
//
// The test runs only when EDGESEC_TEST_MODULE_IMAGE names the image (and
// EDGESEC_TEST_DOCKER, EDGESEC_TEST_IMAGE the daemon and a busybox image,
// as for the container tests); scripts/image-test builds the image and
// runs it.
package imagetest
