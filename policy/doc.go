// Package policy holds cachegate's HTTP caching decisions, free of I/O:
// route matching (Rules.Route) over a configuration compiled by Compile;
// the normalized cache key (Route.Key); and the RFC 9111 rules that say
// what may be stored and reused. The configuration itself (its schema,
// loading and validation) is package config. Everything here is safe for
// concurrent use once Rules have been compiled.
package policy
