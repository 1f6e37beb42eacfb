// Package purge invalidates stored entries without touching them: a purge
// of a scope (everything, a host, a route, a tag, a path prefix, a URL)
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
// or a Vary marker stored under the URL, or a fill of it in flight) and
// are kept only until the last such entry leaves the store (the mark's
// time is set earlier, see MarkTime, so that the usual trimming drops it
// then, in Redis and in every mirror; a mark's time never moves back, so
// an admin purge of the same scope keeps its horizon). No entry can
// outlive the mark that invalidates it, and POSTs to arbitrary URLs leave
// no marks behind.
//
// The package also serves the admin API (POST /purge), the PURGE method and
// HMAC-signed CMS webhooks that turn into purges.
package purge
