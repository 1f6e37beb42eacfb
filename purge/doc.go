// Package purge invalidates stored entries without touching them: a purge
// of a scope (everything, a host, a route, a tag, a path prefix, a URL, a
// cache group, a path pattern: pattern.go)
// takes the next value of a purge sequence and records it as that scope's
// mark. Every entry keeps the sequence value read when its fill started and
// the scopes it belongs to, and is valid only while that value is at or
// above the mark of each of its scopes. A purge therefore costs O(1) per
// scope however many entries it hits, and a fill that started before a
// purge can never be served after it.
//
// With one instance the sequence and the marks live in process (Local).
// With Redis they live in Redis (Redis): a Lua script takes the sequence,
// sets the marks and appends to a bounded purge log; instances mirror the
// marks in memory, are told of new purges by pub/sub, catch up from the
// log, and report the sequence they have applied, so that a purge call
// returns only when every live instance honours it. A soft purge sets a
// separate mark that makes entries stale (served while one refresh runs)
// instead of invalid.
//
// Marks are kept MarkHorizon, longer than any entry lives in the store,
// except those of the invalidation after an unsafe request (Mark, RFC 9111
// §4.4). Those are made only when something can be invalidated (an entry
// or a Vary marker stored under the URL, or a fill of it in flight; on a
// route keying request fields, the URL record every store there writes, or
// a fill recorded under the URL) and are kept only until the last such
// entry leaves the store (the mark's
// time is set earlier, see MarkTime, so that the usual trimming drops it
// then, in Redis and in every mirror; a mark's time never moves back, so
// an admin purge of the same scope keeps its horizon). For a fill in
// flight that is not the life of its entry but the fill bound: a fill
// stores only within that bound of its start (policy.FillStoreBound, of
// the order of the origin timeouts), and Verify, just before and just
// after its store write, reads the sequence and, when it moved since the
// fill's stamp, catches the mirror up first, so that the fill never keeps
// an entry a mark taken during it invalidates (and stores nothing when
// the catch-up fails within VerifyTimeout; while Redis is down the mirror
// answers alone, see Verify). No entry can outlive the
// mark that invalidates it, and POSTs to arbitrary URLs, even paired with
// slow fills of them, leave no lasting marks behind.
//
// Durability. Redis may lose the purge state on its own: eviction under an
// allkeys-* maxmemory-policy, FLUSHALL or FLUSHDB, a restart without
// persistence, a failover to a replica that missed the last writes. The
// rule is that such a loss may cost a flush, never a resurrection, and
// that the sequence never goes backwards as any instance sees it:
//
//   - The sequence and every mark are fields of one hash, so Redis can only
//     lose them together (an eviction cannot drop the marks and keep the
//     sequence). The log and the times may be lost on their own: catching
//     up then reloads the hash whole, and lost times only keep marks longer.
//   - Each instance remembers the highest sequence it has seen. A state
//     that is missing or behind it was lost: it is recreated atomically (in
//     Lua) with the sequence max(seen+1, the time in microseconds) and the
//     "all" hard mark at that value, so every entry filled before the loss
//     counts as purged. Since a state starts time-based, one recreated
//     later starts higher unless more than a million purges a second were
//     taken; the instances' clocks must agree to within seconds (an
//     instance whose clock is behind only flushes once more).
//   - FillSeq never stamps a fill with the sequence of a lost state: it
//     recreates the state first.
//   - The state has no TTL, so volatile-* policies never evict it; every
//     heartbeat reads it, so LRU and LFU keep it late in their order. Under
//     allkeys-* it can still go (a flush): the instances say so in the log
//     and in /readyz.
//   - A state recreated less than 3 s ago (in Redis's clock) makes every
//     purge wait its whole bound: the instances that were cut off by the
//     loss are not in the applied hash (it was lost too) and may still serve
//     their L1 within store.tiered.l1_when_redis_down; the wait lets them
//     resubscribe, catch up (the recreation's "all" mark included) and
//     report before the purge answers.
//   - A rolled-back state (a failover to a lagging replica) is noticed by
//     the instances that applied what it lacks, at their next heartbeat,
//     fill or purge; an instance started in that window, before any of
//     them, would take the replica's state as it is.
//
// Trust. An instance trusts its mirror (and the tiered store its L1, see
// Trusted) only under a lease: for a second after it read the sequence and
// reported what it applied, on the monotonic clock, counted from when the
// read was sent. The heartbeat renews it every 500 ms. At start, after a
// reconnect or after a pause (GC, SIGSTOP) longer than the lease, Check
// reads the sequence and catches up before it answers. The lease is much
// shorter than the 3 s after which a purge stops waiting for a silent
// instance, so an instance a purge did not wait for reads the sequence
// before it serves again; one that was waited for and did not confirm is
// named in the purge's Lagging.
//
// Refused writes. An invalidation Redis refuses (full under noeviction,
// timing out, down) is applied locally at once, with a mark above every
// entry this instance filled, queued and retried by the heartbeat until
// Redis takes it; the queue is bounded (10,000 scopes), beyond which it
// becomes one purge of everything. Pending returns the queue for /readyz
// and the metrics; a purge through the API still answers 503.
//
// The scope values come from package policy's typed key (Key.URL,
// Key.PrefixScopes), and a hit's check meets them through
// policy.URLPrefixes: nothing here parses a key. The admin API, the PURGE
// method and the CMS webhooks that turn requests into scopes live in
// admin/.
//
// Audit. Audited wraps a Purger so that every purge and mark is logged
// once and kept in a short list (GET /purges), with the source its caller
// put in the context (WithSource): the API and its caller, a webhook,
// PURGE, an unsafe request, a cache-group invalidation.
package purge
