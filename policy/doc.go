// Package policy holds cachegate's pure decisions, free of I/O: the
// configuration schema and its loader (Load, Parse), which report every
// problem with file, line and option; route matching (Config.Route); the
// normalized cache key (Route.Key); and the RFC 9111 rules that say what
// may be stored and reused. Everything here is safe for concurrent use
// once a Config has been parsed.
package policy
