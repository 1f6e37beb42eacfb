package policy

import (
	"net/http"
	"time"
)

// KeepForRevalidation is how long an entry with validators is kept past
// its stale windows, so that the origin can still answer 304 for it (RFC
// 9111 §4.3.1) instead of sending the whole representation again.
const KeepForRevalidation = time.Hour

// StoreTTL is how long a cache keeps an entry: its freshness (RFC 9111
// §4.2.1), then the longest of its stale windows (RFC 5861 §3, §4) and
// unreachable, the window in which a disconnected cache serves it stale
// (§4.2.4), which must-revalidate forbids (§5.2.2.2); then
// KeepForRevalidation when h carries a validator. It is at least a
// second and never more than limit (the store's cap, which purge marks
// outlive).
func StoreTTL(ef EntryFreshness, h http.Header, unreachable, limit time.Duration) time.Duration {
	if ef.MustRevalidate {
		unreachable = 0 // never served stale, even disconnected
	}
	ttl := ef.Freshness + max(ef.StaleWhileRevalidate, ef.StaleIfError, unreachable)
	if hasValidator(h) {
		ttl += KeepForRevalidation
	}
	return min(max(ttl, time.Second), limit)
}

// FillStoreBound is how long after its start a fill may still store its
// entry: the connection, the wait for the response headers and as long
// again for the body (each read of which responseHeader bounds too). A
// slower fill streams its response unstored, so that an invalidation
// made while it was in flight (RFC 9111 §4.4) need be kept only this long,
// not as long as the entry could live.
func FillStoreBound(connect, responseHeader time.Duration) time.Duration {
	return connect + 2*responseHeader
}

// SoftPurged is ef after a soft purge, at age: stale now (freshness 0,
// RFC 9111 §4.2), yet servable while one refresh runs, as within
// stale-while-revalidate (RFC 5861 §3), whose window grows to cover the
// entry's age; unless must-revalidate forbids serving it stale
// (§5.2.2.2), which DecideReuse still applies.
func SoftPurged(ef EntryFreshness, age time.Duration) EntryFreshness {
	ef.Freshness = 0
	ef.StaleWhileRevalidate = max(ef.StaleWhileRevalidate, age+time.Second)
	return ef
}

// TTL is the remaining freshness of an entry at age, as Cache-Status
// reports it (RFC 9211 §2.4): negative once stale.
func (ef EntryFreshness) TTL(age time.Duration) time.Duration {
	return ef.Freshness - age
}

// Jittered is d with its freshness shortened by up to the fraction jitter
// (rnd uniform in [0, 1)), when the freshness is the route's TTL
// (RouteTTL), so that entries filled together do not all expire together;
// the origin's own lifetimes are kept exact.
func (d StoreDecision) Jittered(jitter, rnd float64) StoreDecision {
	if d.RouteTTL && jitter > 0 {
		d.Freshness -= time.Duration(float64(d.Freshness) * jitter * rnd)
	}
	return d
}

// Limited is d refused when the request said no-store (RFC 9111
// §5.2.1.5: neither it nor its response is stored; rd is what the route
// honours of the request's directives) or when the response announces a
// length above maxBytes (cache.max_object_bytes; contentLength -1 is
// unknown, and is bounded while the body is read).
func (d StoreDecision) Limited(rd RequestDirectives, contentLength, maxBytes int64) StoreDecision {
	switch {
	case rd.NoStore:
		d.Store, d.Reason = false, "request-no-store"
	case d.Store && contentLength > maxBytes:
		d.Store, d.Reason = false, "too-large"
	}
	return d
}
