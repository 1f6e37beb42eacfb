package purge

import (
	"sync"
	"sync/atomic"
)

// Bounds of the invalidations waiting for Redis, in scopes and in bytes
// of scope values; beyond either they are coalesced into one purge of
// everything.
const (
	maxPendingScopes = 10000
	maxPendingBytes  = 1 << 20
)

// pendingPurge is one invalidation Redis refused, with the value of the
// local marks that stand in for it until Redis takes it.
type pendingPurge struct {
	scopes []Scope
	soft   bool
	local  uint64
}

// pending is the queue of invalidations that Redis refused (full under
// noeviction, timing out, down). Each is applied locally at once and kept
// until Redis takes it: an invalidation is never dropped, only coalesced.
type pending struct {
	mu      sync.Mutex
	purges  []*pendingPurge
	scopes  int
	bytes   int
	lastErr error
	// refused counts the invalidations Redis refused since start.
	refused atomic.Uint64
}

// add queues p, refused with err, and reports whether the queue was
// empty before. When the queue would exceed its bounds it is replaced by
// one hard purge of everything (safe: it invalidates at least what the
// queue did), and add reports that it coalesced. A purge that a queued
// purge of everything covers is not queued again.
func (q *pending) add(p *pendingPurge, err error) (first, coalesced bool) {
	q.refused.Add(1)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.lastErr = err
	first = len(q.purges) == 0
	if len(q.purges) == 1 && q.purges[0].coversAll(p.local) {
		return false, false
	}
	if q.scopes+len(p.scopes) > maxPendingScopes || q.bytes+p.size() > maxPendingBytes {
		p = &pendingPurge{scopes: []Scope{{Kind: All}}, local: p.local}
		q.purges, q.scopes, q.bytes = nil, 0, 0
		coalesced = true
	}
	q.purges = append(q.purges, p)
	q.scopes += len(p.scopes)
	q.bytes += p.size()
	return first, coalesced
}

// size is the bytes of p's scope values.
func (p *pendingPurge) size() int {
	n := 0
	for _, s := range p.scopes {
		n += len(s.Value) + 1
	}
	return n
}

// coversAll says whether p is a hard purge of everything whose local
// marks are at or above local: it invalidates whatever a later purge with
// that local value could.
func (p *pendingPurge) coversAll(local uint64) bool {
	return !p.soft && len(p.scopes) == 1 && p.scopes[0].Kind == All && p.local >= local
}

// head returns the oldest queued invalidation, or nil.
func (q *pending) head() *pendingPurge {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.purges) == 0 {
		return nil
	}
	return q.purges[0]
}

// written drops p, which Redis took, if it is still queued (a coalesce in
// the meantime replaced it).
func (q *pending) written(p *pendingPurge) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.purges) > 0 && q.purges[0] == p {
		q.purges[0] = nil
		q.purges = q.purges[1:]
		q.scopes -= len(p.scopes)
		q.bytes -= p.size()
	}
	if len(q.purges) == 0 {
		q.purges, q.lastErr = nil, nil
	}
}

// failed records why the last retry failed.
func (q *pending) failed(err error) {
	q.mu.Lock()
	q.lastErr = err
	q.mu.Unlock()
}

// state returns how many invalidations wait, and the last refusal.
func (q *pending) state() (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.purges), q.lastErr
}

// snapshot returns the queued invalidations, oldest first.
func (q *pending) snapshot() []*pendingPurge {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]*pendingPurge(nil), q.purges...)
}
