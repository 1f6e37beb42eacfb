// Package proxy is cachegate's request lifecycle and its origin side: it
// applies package policy's decisions and does the I/O.
//
// A request goes through named steps, like Varnish's recv → hash →
// hit/miss → fetch → deliver (proxy.go): classify (route, method, request
// directives; pass when the route or the request says so), key (the
// normalized primary key, then the Vary-selected variant), lookup (the
// store, then the purge marks: lookup.go, which admin's /debug/entry
// uses too), decide (policy's freshness and staleness rules: fresh, stale
// within a window, must validate, miss), fetch and deliver (Age, Via,
// Cache-Status per RFC 9211, 304 to conditional clients, ranges:
// deliver.go).
//
// A fetch runs a fill: one request to the origin whose response may be
// stored (fill.go), collapsed per key through package collapse and sent
// through httputil.ReverseProxy, whose hooks are rewrite (fill.go),
// modifyResponse (response.go) and originError (originerror.go). A body
// to store is read at the origin's pace and streamed to its client from
// memory (fillbody.go), then stored with its Vary marker (store.go); a
// stored part is completed and combined (combine.go). Unsafe methods
// invalidate what they name (unsafe.go) and what their route's rules name
// (invalidate.go). Stale and soon-to-expire entries
// are refreshed in the background (refresh.go); warm URLs are fetched
// through the same path (warm.go).
package proxy
