// Package policy holds cachegate's pure decisions, free of I/O: the
// configuration schema and its loader (Load, Parse), which report every
// problem with file, line and option; route matching (Config.Route); the
// normalized cache key (Route.Key); and the RFC 9111 rules that say what
// may be stored and reused. Everything here is safe for concurrent use
// once a Config has been parsed.
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
