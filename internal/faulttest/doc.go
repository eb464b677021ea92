// Package faulttest is the fault campaign and the fleet test: the
// reference module (examples/securitymodule) run as a real process with
// --mqtt against a real local mosquitto, through broker outages, kill -9,
// a full disk, black-holed and slow brokers, hostile host files and an
// exec flood, with a persistent QoS 1 subscriber counting what arrives;
// and N engines (edgesec.New + transport/mqtt) in one process against one
// broker, through a broker restart and dropped connections.
//
// The tests are behind the "fault" build tag, so the ordinary test run
// does not build them:
//
//	go test -tags fault -count=1 ./internal/faulttest                       # short form (CI)
//	go test -tags fault -count=1 -timeout 60m ./internal/faulttest -fault.long
//	go test -tags fault -count=1 -timeout 30m ./internal/faulttest -run TestFleet -fleet.n 1000
//
// They need root (the process collector's proc connector, a tmpfs mount
// for the disk-full scenario) and the mosquitto broker; each skips with
// the reason when that is missing. Figures are logged with t.Logf; the
// long form's are recorded in BENCHMARKS.md.
package faulttest
