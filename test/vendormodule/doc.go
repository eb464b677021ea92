// Package vendormodule is a vendor's security module built on edgesec, in a
// Go module of its own that imports edgesec as a dependency would: the
// standard collector set (defaults), a collector of its own with a vendor
// event whose priority comes from the twin, a processing stage, an
// aggregator and a transport of its own, the transport also wrapped in the
// durable outbox for a second destination. Its tests run edgesec's
// conformance suites on each part (collectortest, aggregatetest,
// transporttest) and the whole engine once. CI runs them with
// `cd test/vendormodule && go test -race ./...`.
package vendormodule
