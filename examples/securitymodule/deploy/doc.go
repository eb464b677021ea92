// Package deploy holds the reference module's deployment files (the IoT
// Edge deployment snippet layered.deployment.json and the systemd unit
// edgesec.service) and the tests that check them. It has no non-test code.
package deploy
