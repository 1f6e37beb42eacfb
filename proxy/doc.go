// Package proxy is cachegate's request lifecycle and its origin side.
//
// A request goes through named steps, like Varnish's recv → hash →
// hit/miss → fetch → deliver: classify (route, method, request directives;
// pass when the route or the request says so), key (the normalized primary
// key, then the Vary-selected variant), lookup (the store), decide (fresh,
// stale, must validate, miss), fetch (through httputil.ReverseProxy,
// streamed to the client while captured for storing) and deliver (Age,
// Via, Cache-Status per RFC 9211, 304 to conditional clients). The
// RFC 9111 decisions themselves live in package policy; this package only
// applies them and does the I/O.
package proxy
