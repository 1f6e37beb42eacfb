package purge

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachegate/cachegate/store"
)

// Result is what a purge did.
type Result struct {
	// Seq is the purge sequence value the purge took.
	Seq uint64 `json:"seq"`
	// Scopes is the number of scopes marked.
	Scopes int `json:"scopes"`
	// Lagging names the live instances that had not applied the purge when
	// the call gave up waiting for them.
	Lagging []string `json:"lagging,omitempty"`
	// Widened lists the pattern scopes that would have taken the active
	// patterns over their bound and were purged as their host, or as
	// everything, instead (see widenPatterns).
	Widened []string `json:"widened,omitempty"`
}

// patternLimit is a purger's bound on active pattern marks, set by
// SetPatternLimit; 0 is DefaultPatternLimit.
type patternLimit struct{ n atomic.Int64 }

// SetPatternLimit bounds the active pattern marks (cache.max_pattern_purges).
func (l *patternLimit) SetPatternLimit(n int) { l.n.Store(int64(n)) }

func (l *patternLimit) limit() int {
	if n := l.n.Load(); n > 0 {
		return int(n)
	}
	return DefaultPatternLimit
}

// Purger records purges and tells whether an entry survives them.
type Purger interface {
	// Check applies the marks to a stored entry.
	Check(ctx context.Context, e *store.Entry) Validity
	// FillSeq is the sequence value a fill that starts now stamps its
	// entry with.
	FillSeq(ctx context.Context) uint64
	// Verify is Check for an entry a fill is about to store (and has just
	// stored): it first makes sure that every mark taken until now, in
	// any instance, is applied here, so that a mark whose fill stamp
	// predates it and that is kept only as long as such a fill may still
	// store (the invalidation after an unsafe request, see Mark) is not
	// missed. It answers Purged, the safe answer, when that cannot be
	// known in time (VerifyTimeout).
	Verify(ctx context.Context, e *store.Entry) Validity
	// Purge marks scopes, soft or hard, and returns when every live
	// instance honours the purge (or a bound passed).
	Purge(ctx context.Context, scopes []Scope, soft bool) (Result, error)
	// Mark marks scopes hard without waiting for the other instances: the
	// invalidation that follows an unsafe request (RFC 9111 §4.4). until
	// is when the last entry the scopes could invalidate leaves the store:
	// the marks are kept that long (at most MarkHorizon), not for the
	// whole horizon, so that unsafe requests do not pile up marks. See
	// MarkTime.
	Mark(ctx context.Context, scopes []Scope, until time.Time) error
	// Close stops the purger's goroutines.
	Close() error
}

// Local is the Purger of a single instance without Redis: the sequence
// and the marks live in process, and a purge applies at once.
type Local struct {
	mu    sync.Mutex // serializes purges
	seq   atomic.Uint64
	marks *marks
	now   func() time.Time
	patternLimit
}

// NewLocal returns an empty in-process Purger.
func NewLocal() *Local {
	return &Local{marks: newMarks(), now: time.Now}
}

// Check implements Purger.
func (l *Local) Check(_ context.Context, e *store.Entry) Validity { return l.marks.check(e) }

// ActiveMarks is the number of purge marks held (as varnishadm ban.list
// counts bans): each is checked against the entries of its scope until
// it is older than any entry.
func (l *Local) ActiveMarks() int { return l.marks.active() }

// FillSeq implements Purger.
func (l *Local) FillSeq(context.Context) uint64 { return l.seq.Load() }

// Verify implements Purger: the marks live in process, set before the
// sequence moves, so they are always current here.
func (l *Local) Verify(_ context.Context, e *store.Entry) Validity { return l.marks.check(e) }

// Purge implements Purger: one sequence value for all the scopes.
func (l *Local) Purge(_ context.Context, scopes []Scope, soft bool) (Result, error) {
	now := l.now()
	l.mu.Lock() // the count of active patterns holds until they are set
	defer l.mu.Unlock()
	scopes, widened := l.marks.widen(scopes, l.limit())
	res := l.purge(scopes, soft, now, now)
	res.Widened = widened
	return res, nil
}

// purge marks scopes at seq+1 with the mark time at (see MarkTime).
// l.mu is held.
func (l *Local) purge(scopes []Scope, soft bool, at, now time.Time) Result {
	seq := l.seq.Load() + 1
	l.marks.mu.Lock()
	for _, s := range scopes {
		l.marks.set(s, seq, soft, at)
	}
	l.marks.applied = seq
	l.marks.mu.Unlock()
	// The marks are in place before a fill can read the new value.
	l.seq.Store(seq)
	if seq%1024 == 0 {
		l.marks.trim(now.Add(-MarkHorizon))
	}
	return Result{Seq: seq, Scopes: len(scopes)}
}

// Mark implements Purger.
func (l *Local) Mark(_ context.Context, scopes []Scope, until time.Time) error {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.purge(scopes, false, MarkTime(until, now), now)
	return nil
}

// Close implements Purger.
func (l *Local) Close() error { return nil }

// MarkHorizon is how long a mark is kept: longer than any entry lives in
// the store (the proxy caps an entry's store TTL at store.MaxTTL).
const MarkHorizon = store.MaxTTL + time.Hour

// MarkTime is the time a mark that must be kept until until is recorded
// with. Marks are trimmed by their time, MarkHorizon after it; a mark that
// only has to outlive entries leaving the store sooner (the invalidation
// after an unsafe request) is recorded as if set earlier, so that the same
// trimming drops it at until. It is never later than now: no mark lives
// longer than the horizon.
func MarkTime(until, now time.Time) time.Time {
	return earlier(until.Add(-MarkHorizon), now)
}

// earlier is the earlier of a and b.
func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
