// Package deploy holds the reference module's deployment files (the IoT
// Edge deployment snippets layered.deployment.json and
// layered.deployment.ebpf.json, with CAP_BPF and CAP_PERFMON for engines
// that know them, and the systemd unit
// edgesec.service) and the tests that check them. It has no non-test code.
package deploy
