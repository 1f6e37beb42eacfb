// Package proxy is cachegate's request lifecycle and its origin side.
//
// A request goes through named steps, like Varnish's recv → hash →
// hit/miss → fetch → deliver: classify (route, method, request directives;
// pass when the route or the request says so), key (the normalized primary
// key, then the Vary-selected variant), lookup (the store, then the purge
// marks), decide (fresh, stale within a window, must validate, miss),
// fetch (collapsed per key through package collapse, through
// httputil.ReverseProxy; a body to store is read at the origin's pace by
// the fill and streamed to its client from memory, fillbody.go)
// and deliver (Age, Via, Cache-Status per RFC 9211, 304 to conditional
// clients, ranges). Stale and soon-to-expire entries are refreshed in the
// background (refresh.go), warm URLs are fetched through the same path
// (warm.go). The RFC 9111 decisions themselves live in package policy;
// this package only applies them and does the I/O.
package proxy
