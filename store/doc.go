// Package store keeps cached responses (Entry values) under opaque keys
// behind one small interface, Store, with three backends: memory, an
// in-process LRU bounded by bytes and the embedded default when no Redis is
// configured; redis, which stores each entry encoded by the compact binary
// codec of this package (Encode, Decode) under hash-tagged keys through a
// go-redis UniversalClient (one node, Sentinel or Cluster) with short
// timeouts, so that a Redis outage surfaces as errors and never as a hang
// or a panic; and tiered (Tiered), a memory L1 over a redis L2 that serves
// L1 hits without a round trip while the purge subscription is healthy and
// admits entries read from L2 by a TinyLFU frequency filter. Breaker wraps a
// remote store in a circuit breaker, so that a Redis outage fails fast.
//
// The breaker's state machine is github.com/sony/gobreaker/v2, which
// replaced a hand-written one; Breaker keeps only what is cachegate's:
// which errors count as failures and which are no answer at all (the
// signal behind store.tiered.l1_when_redis_down). The byte-bounded LRU
// (Memory) and the admission filter stay hand-written; their docs say why.
package store
