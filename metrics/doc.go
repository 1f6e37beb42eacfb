// Package metrics records what cachegate does as Prometheus metrics, all
// named cachegate_*, in a registry of its own (never the global one) that
// Handler serves: requests by route and cache status, their latency and
// those in flight, origin requests and their latency, store operations,
// errors and latency (InstrumentStore wraps any store.Store to record
// them), collapsed requests, refreshes, purges and purge marks, each
// store layer's usage, capacity and evictions (read from functions at a
// scrape: the metrics package does no I/O), the store circuit state,
// configuration reloads, certificate expiry and warm requests, beside the
// Go runtime and process collectors and a cachegate_build_info gauge.
// Labels carry route names, backend names and small fixed vocabularies,
// never URLs, hosts or keys, so the number of series stays bounded by the
// configuration; recording is cheap and allocation-free once a label
// combination has been seen, and a nil *Metrics records nothing.
package metrics
