// Package policy holds cachegate's HTTP caching decisions as pure
// functions of their inputs, without I/O, so that each rule is applied in
// one place and tested by a table citing its RFC section: route matching
// (Rules.Route, over a configuration compiled by Compile); the request's
// normalized target and its typed cache key (Target, Key), whose methods
// give its store IDs and purge scopes; what may be stored and for how
// long (DecideStore, StoreTTL: RFC 9111 §3, §4.2, RFC 9213 targeted
// fields); what may be reused, stale or not, and after an origin error
// (DecideReuse, DecideReuseAfterError: §4.2.4, RFC 5861); early refresh
// (XFetch); conditional requests and 304s (RFC 9110 §13), partial content
// (§14, RFC 9111 §3.3, §3.4), Vary (§4.1), Cache-Status (RFC 9211), cache
// groups (RFC 9875) and the forwarding fields. Package proxy applies the
// decisions and does the I/O; package config owns the configuration (its
// schema, loading and validation). Everything here is safe for concurrent
// use once Rules have been compiled.
//
// Structured fields (RFC 9651) are parsed and serialized by
// github.com/dunglas/httpsfv: targeted cache-control fields (RFC 9213),
// Cache-Groups and Cache-Group-Invalidation (RFC 9875), Cache-Status
// (RFC 9211). It replaced a hand-written parser that accepted what RFC 9651
// rejects (decimals such as 1.2345, bad base64) and rejected what it
// allows (dates, display strings), so a valid targeted field was ignored
// and an invalid one obeyed; httpsfv passes the httpwg structured-field
// test suite. Cache-Control, Vary and the Accept-* fields are not
// structured fields (RFC 9110 lists), so they keep their own small
// parsers here.
package policy
