package store

import (
	"context"
	"errors"
	"time"
)

// markerL1TTL is how long a Vary marker read from L2 stays in L1: a marker
// has no freshness of its own and Redis's TTL for it is not read, so L1
// keeps it briefly and asks L2 again.
const markerL1TTL = time.Second

// admissionEntrySize is the mean entry size assumed to size the admission
// filter from the L1's bound.
const admissionEntrySize = 4 << 10

// Tiered is a Store made of an in-process L1 (a Memory) over a remote L2
// (Redis, usually behind a Breaker).
//
// L1 holds only fresh entries: an entry's L1 TTL is its remaining
// freshness (ResponseTime + Freshness - now), so a lookup of a stale
// entry reaches L2, where another instance may have stored a refreshed
// copy. Vary markers (Status 0) have no freshness: L1 keeps a marker for
// the ttl of its Set, or for one second when it was read from L2.
//
// L1 is trusted only while Trusted reports true, that is while the purge
// subscription is healthy: purges from other instances reach L1 through
// it. While it is down, reads bypass L1 and go to L2, where purges are
// honoured; L1 is still written, and a key that L2 no longer holds is
// dropped from L1.
//
// One exception: while Redis does not answer at all (Unreachable), nobody
// can write a purge to it, so no purge can be acknowledged, and L1 serves
// its fresh entries for up to L1WhenRedisDown after Redis stopped
// answering; the entries it returns then are copies with RedisDown set.
// After that bound L1 is not trusted again until Trusted says so: the
// bound limits how long an instance relies on marks it cannot refresh (a
// Redis that only this instance cannot reach still takes purges from the
// others; they name this instance as not having confirmed). A Redis that
// answers with errors (WRONGPASS, OOM) is not unreachable: others may
// still purge through it.
//
// An entry that this instance stores (Set) always enters L1; an entry read
// from L2 enters it only on its second request within the admission
// filter's window (TinyLFU), so that keys requested once do not evict
// those requested again.
type Tiered struct {
	l1    *Memory
	l2    Store
	opts  TieredOptions
	admit *admission
	// now is the clock freshness is measured against (replaced in tests).
	now func() time.Time
}

// TieredOptions are what a Tiered store asks of the parts around it: the
// purge marks and the circuit breaker before Redis. They are given once,
// to NewTiered, by whoever opened those parts first.
type TieredOptions struct {
	// Trusted reports whether L1 may serve reads: the purge marks are
	// current (purge.Redis.Trusted). Nil: always.
	Trusted func() bool
	// Current reports whether an L1 copy is still current (not touched by
	// a purge); a copy that is not is dropped and L2 asked, where another
	// instance may already have stored the new version. Nil: always.
	Current func(*Entry) bool
	// Unreachable reports whether Redis does not answer and since when
	// (Breaker.Unreachable); L1WhenRedisDown is how long after that L1
	// still serves (0 or a nil Unreachable: not at all).
	Unreachable     func() (since time.Time, ok bool)
	L1WhenRedisDown time.Duration
}

// NewTiered returns a Tiered store of l1 over l2. The admission filter is
// sized for l1's bound at 4 KiB an entry.
func NewTiered(l1 *Memory, l2 Store, opts TieredOptions) *Tiered {
	if opts.Trusted == nil {
		opts.Trusted = func() bool { return true }
	}
	return &Tiered{
		l1:    l1,
		l2:    l2,
		opts:  opts,
		admit: newAdmission(int(l1.maxBytes / admissionEntrySize)),
		now:   time.Now,
	}
}

// L1 returns the in-process tier, for metrics (Bytes, Len).
func (t *Tiered) L1() *Memory { return t.l1 }

// Get returns the entry stored under key: from L1 when L1 is trusted (or
// Redis has been unreachable for less than L1WhenRedisDown) and holds it,
// without asking L2; otherwise from L2, offering a hit to L1 (subject to
// admission). Errors are L2's: ErrNotFound, or a failure of L2 (which L1
// does not mask, as L1 held nothing trustworthy).
func (t *Tiered) Get(ctx context.Context, key string) (*Entry, error) {
	trusted := t.opts.Trusted()
	if trusted || t.redisDownWithinBound() {
		if e, err := t.l1.Get(ctx, key); err == nil {
			if t.opts.Current == nil || e.IsMarker() || t.opts.Current(e) {
				if !trusted && !e.IsMarker() {
					c := *e
					c.RedisDown = true
					return &c, nil
				}
				return e, nil
			}
			_ = t.l1.Delete(ctx, key)
		}
	}
	e, err := t.l2.Get(ctx, key)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			// L1 may hold a copy purged from L2 while it was not trusted.
			_ = t.l1.Delete(ctx, key)
		}
		return nil, err
	}
	ttl := markerL1TTL
	if !e.IsMarker() {
		ttl = t.freshFor(e)
	}
	if ttl > 0 && t.admit.record(key) {
		_ = t.l1.Set(ctx, key, e, ttl)
	} else {
		// Whatever L1 holds under key is older than what L2 returned.
		_ = t.l1.Delete(ctx, key)
	}
	return e, nil
}

// Set stores e under key in L2 for ttl, then in L1 for ttl or e's
// remaining freshness, whichever is shorter (a marker for ttl); a stale e
// replaces nothing in L1 but drops the copy there. L1 is written even when
// L2 fails, and L2's error is returned.
func (t *Tiered) Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
	if e.RedisDown {
		// A copy Get returned, changed and stored again: the flag was
		// about that one response.
		c := *e
		c.RedisDown = false
		e = &c
	}
	err := t.l2.Set(ctx, key, e, ttl)
	l1TTL := ttl
	if !e.IsMarker() {
		l1TTL = min(ttl, t.freshFor(e))
	}
	_ = t.l1.Set(ctx, key, e, l1TTL)
	return err
}

// Delete removes the entries stored under keys from L1 and from L2, and
// returns L2's error.
func (t *Tiered) Delete(ctx context.Context, keys ...string) error {
	_ = t.l1.Delete(ctx, keys...)
	return t.l2.Delete(ctx, keys...)
}

// Close drops L1's entries and closes L2.
func (t *Tiered) Close() error {
	_ = t.l1.Close()
	return t.l2.Close()
}

// redisDownWithinBound reports whether Redis has not answered for less
// than L1WhenRedisDown.
func (t *Tiered) redisDownWithinBound() bool {
	if t.opts.Unreachable == nil || t.opts.L1WhenRedisDown <= 0 {
		return false
	}
	since, ok := t.opts.Unreachable()
	return ok && t.now().Sub(since) < t.opts.L1WhenRedisDown
}

// freshFor returns how long e stays fresh from now (RFC 9111 §4.2:
// freshness lifetime less current age, the age counted from ResponseTime);
// zero or less when e is stale.
func (t *Tiered) freshFor(e *Entry) time.Duration {
	return e.ResponseTime.Add(e.Freshness).Sub(t.now())
}

var _ Store = (*Tiered)(nil)
