package purge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/internal/redisx"
	"github.com/cachegate/cachegate/store"
)

// timing holds the durations and bounds of the Redis purger. Production
// uses defaultTiming; tests shorten it (newRedis) instead of waiting for
// these durations in real time.
type timing struct {
	// logLength is about how many purges the log keeps (XADD MAXLEN ~); an
	// instance further behind reloads the marks whole.
	logLength int
	// heartbeat is how often an instance reads the sequence and reports
	// the one it applied; an instance silent for liveWindow is no longer
	// waited for.
	heartbeat  time.Duration
	liveWindow time.Duration
	// lease is how long after it last read the sequence (and reported)
	// an instance trusts its mirror and its L1 without asking Redis. It is
	// well below liveWindow: an instance that a purge no longer waits for
	// has let its lease expire (with room for clock skew between the
	// instances' reports), so it reads the sequence before serving again.
	lease time.Duration
	// waitBound is how long a purge call waits for the live instances.
	waitBound time.Duration
	// downFor is how long a failure keeps the per-request calls off Redis
	// (redisx.RecentFailure).
	downFor time.Duration
	// deadAfter is how long an instance may stay silent before its report
	// is removed from the applied hash.
	deadAfter time.Duration
}

// defaultTiming is production's timing.
var defaultTiming = timing{
	logLength:  10000,
	heartbeat:  500 * time.Millisecond,
	liveWindow: 3 * time.Second,
	lease:      time.Second, // two heartbeats
	waitBound:  2 * time.Second,
	downFor:    time.Second,
	deadAfter:  time.Minute,
}

// Redis is the Purger of instances sharing a Redis.
type Redis struct {
	client redis.UniversalClient
	keys   redisKeys
	id     string
	log    *slog.Logger
	marks  *marks
	t      timing
	// now is the wall clock (time-based sequences, reports, mark ages);
	// since is a monotonic clock for the lease.
	now   func() time.Time
	since func() time.Duration

	catchMu sync.Mutex // one sync at a time
	// sub hears the purges of every instance; while it is down the mirror
	// is not trusted without reading the sequence.
	sub *redisx.Subscription
	// seen is the highest sequence this instance read from Redis: a purge
	// state behind it was lost by Redis.
	seen atomic.Uint64
	// leaseEnd is when (on since's clock) the mirror stops being trusted
	// without reading the sequence first.
	leaseEnd atomic.Int64
	// pending holds the invalidations Redis refused.
	pending pending
	// policy is Redis's maxmemory-policy, when Redis tells it.
	policy atomic.Pointer[string]
	// down remembers a recent Redis failure, so that requests do not each
	// wait for a timeout while Redis does not answer (there can be no
	// purge to learn of either).
	down   redisx.RecentFailure
	cancel context.CancelFunc
	done   sync.WaitGroup

	// patternLimit bounds the active pattern marks (SetPatternLimit).
	patternLimit
}

type redisKeys struct {
	state, times, log, channel, applied string
}

// NewRedis returns a Purger on client under key prefix and starts its
// subscription and heartbeat, stopped by Close. It does not fail when
// Redis is down: it catches up when Redis answers.
func NewRedis(client redis.UniversalClient, prefix string, log *slog.Logger) *Redis {
	return newRedis(client, prefix, log, monotonic(), defaultTiming)
}

// monotonic returns a clock of the time elapsed since it was made.
func monotonic() func() time.Duration {
	epoch := time.Now()
	return func() time.Duration { return time.Since(epoch) }
}

// newRedis is NewRedis with the lease's clock and the timing.
func newRedis(client redis.UniversalClient, prefix string, log *slog.Logger, since func() time.Duration, t timing) *Redis {
	tag := "{" + prefix + "}"
	r := &Redis{
		client: client,
		keys: redisKeys{
			state:   tag + ":purge:state",
			times:   tag + ":purge:times",
			log:     tag + ":purge:log",
			channel: tag + ":purge:events",
			applied: tag + ":purge:applied",
		},
		id:    instanceID(),
		log:   log,
		marks: newMarks(),
		t:     t,
		now:   time.Now,
		since: since,
	}
	r.down.Pause = t.downFor
	r.sub = redisx.NewSubscription(client, r.keys.channel, t.heartbeat, redisx.Handler{
		Up:      r.subscribed,
		Message: func(ctx context.Context, _ *redis.Message) { r.syncAndLog(ctx) },
		Down:    r.unsubscribed,
	})
	r.sub.Start()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.done.Add(1)
	go r.beat(ctx)
	return r
}

// instanceID names this process among the instances.
func instanceID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// ID is the name this instance reports its applied sequence under.
func (r *Redis) ID() string { return r.id }

// ActiveMarks is the number of purge marks this instance's mirror holds:
// every instance mirrors the same marks, so it is the cluster's number
// (see Audited.ActiveMarks).
func (r *Redis) ActiveMarks() int { return r.marks.active() }

// Healthy reports whether the subscription is up, so that purges reach
// this instance as they happen.
func (r *Redis) Healthy() bool { return r.sub.Healthy() }

// Trusted reports whether the mirror of the marks (and so an L1 checked
// against it) may be trusted without asking Redis: the subscription is up
// and the lease is valid, that is this instance read the sequence and
// reported what it applied less than the lease ago. It is false at start
// until the marks are loaded, and after a reconnect or a pause (SIGSTOP,
// a stalled process) until the sequence was read again.
func (r *Redis) Trusted() bool { return r.sub.Healthy() && r.leaseValid() }

func (r *Redis) leaseValid() bool { return int64(r.since()) < r.leaseEnd.Load() }

// renew extends the lease to lease after from, the time the sequence read
// that proved the mirror current was sent (not answered: a pause in
// between shortens the lease, never lengthens it).
func (r *Redis) renew(from time.Duration) {
	end := int64(from + r.t.lease)
	for {
		cur := r.leaseEnd.Load()
		if cur >= end || r.leaseEnd.CompareAndSwap(cur, end) {
			return
		}
	}
}

// Check implements Purger. While the lease is valid the mirror answers
// alone. When it is not (at start, after a pause, while the subscription
// is down), the sequence is read first and the mirror caught up, so that
// no purge acknowledged while this instance was not listening is missed.
func (r *Redis) Check(ctx context.Context, e *store.Entry) Validity {
	if !r.Trusted() {
		r.refresh(ctx)
	}
	return r.marks.check(e)
}

// refresh brings the mirror up to date before a lookup trusts it. With the
// subscription up, one sync renews the lease for every lookup waiting on
// it; with it down, every lookup reads the sequence (without the lock when
// the mirror is current). Nothing is asked while Redis is known down.
func (r *Redis) refresh(ctx context.Context) {
	if r.down.Recent(r.now()) {
		return
	}
	if !r.sub.Healthy() {
		seq, err := r.client.HGet(ctx, r.keys.state, seqField).Uint64()
		r.down.Note(err, r.now())
		if err != nil && !errors.Is(err, redis.Nil) {
			return
		}
		if err == nil && seq == r.applied() {
			return
		}
	}
	r.catchMu.Lock()
	defer r.catchMu.Unlock()
	// Lookups that waited on the lock take what the first one learnt: the
	// mirror is current, or Redis just failed (not one timeout each).
	if r.Trusted() || r.down.Recent(r.now()) {
		return
	}
	err := r.syncLocked(ctx)
	r.down.Note(err, r.now())
}

// FillSeq implements Purger: the sequence in Redis, or the highest seen
// when Redis does not answer (no purge can be acknowledged then either).
// It never stamps a fill with the sequence of a lost purge state: a
// missing or regressed state is recreated first.
func (r *Redis) FillSeq(ctx context.Context) uint64 {
	if r.down.Recent(r.now()) {
		return r.floor()
	}
	seq, err := r.client.HGet(ctx, r.keys.state, seqField).Uint64()
	if r.lostState(seq, err) {
		seq, err = r.ensure(ctx)
	}
	r.down.Note(err, r.now())
	if err != nil {
		return r.floor()
	}
	r.see(seq)
	return seq
}

// VerifyTimeout bounds what Verify waits for Redis: the sequence read and,
// when it moved since the fill started, the catch-up of the mirror.
const VerifyTimeout = time.Second

// Verify implements Purger. It reads the sequence (one HGET); when no
// purge took a value since e's fill stamp, or the mirror already applied
// it, the mirror answers; otherwise the mirror catches up first. A catch-up
// that fails or times out, or a lost purge state, answer Purged: the fill
// then does not store, which is always safe.
//
// While Redis is known down (or the read fails) the mirror answers alone,
// as FillSeq then stamps with the highest sequence seen: the store write
// then fails too, and what the tiered store keeps in L1 is trusted only
// while L1WhenRedisDown lasts and checked against the marks once Redis is
// back. Not covered: an outage of this instance alone longer than the
// fill bound, during which another instance marked the URL for a fill of
// it here (the mark may be gone when this L1 copy is checked again).
func (r *Redis) Verify(ctx context.Context, e *store.Entry) Validity {
	if r.down.Recent(r.now()) {
		return r.marks.check(e)
	}
	ctx, cancel := context.WithTimeout(ctx, VerifyTimeout)
	defer cancel()
	seq, err := r.client.HGet(ctx, r.keys.state, seqField).Uint64()
	r.down.Note(err, r.now())
	switch {
	case r.lostState(seq, err):
		return Purged
	case err != nil:
		return r.marks.check(e)
	}
	r.see(seq)
	if seq > e.Seq && r.applied() < seq {
		if err := r.syncAndReport(ctx); err != nil || r.applied() < seq {
			return Purged
		}
	}
	return r.marks.check(e)
}

func (r *Redis) applied() uint64 {
	r.marks.mu.RLock()
	defer r.marks.mu.RUnlock()
	return r.marks.applied
}

// floor is the highest sequence this instance knows: a state in Redis
// behind it was lost.
func (r *Redis) floor() uint64 { return max(r.seen.Load(), r.applied()) }

// see raises seen to seq.
func (r *Redis) see(seq uint64) {
	for {
		cur := r.seen.Load()
		if cur >= seq || r.seen.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// Purge implements Purger. When Redis refuses the purge, it is applied
// here at once and retried until Redis takes it, and the error is
// returned: the other instances do not know of it yet.
//
// The bound on active patterns is checked against this instance's mirror:
// purges taken at the same moment by other instances may each pass it, so
// it may be exceeded by a few, never without bound.
func (r *Redis) Purge(ctx context.Context, scopes []Scope, soft bool) (Result, error) {
	scopes, widened := r.marks.widen(scopes, r.limit())
	if len(widened) > 0 {
		r.log.Warn("purge: too many active pattern purges: purged wider instead", "patterns", widened, "limit", r.limit())
	}
	seq, err := r.mark(ctx, scopes, soft)
	if err != nil {
		r.deferPurge(scopes, soft, err)
		return Result{}, fmt.Errorf("%w (applied on this instance only; retried until Redis takes it)", err)
	}
	res := Result{Seq: seq, Scopes: len(scopes), Widened: widened}
	res.Lagging, err = r.wait(ctx, seq)
	return res, err
}

// Mark implements Purger: the marks are kept until until (MarkTime). An
// invalidation Redis refuses is applied here at once and retried until
// Redis takes it (then kept the whole horizon: longer is always safe); the
// error is still returned, for the log.
func (r *Redis) Mark(ctx context.Context, scopes []Scope, until time.Time) error {
	_, err := r.markAt(ctx, scopes, false, until)
	if err != nil {
		r.deferPurge(scopes, false, err)
	}
	return err
}

// mark runs the purge script and applies the purge here.
func (r *Redis) mark(ctx context.Context, scopes []Scope, soft bool) (uint64, error) {
	return r.markAt(ctx, scopes, soft, r.now().Add(MarkHorizon))
}

// markAt is mark for marks kept until until (see MarkTime): the script
// records them with an earlier time and still trims the marks older than
// now minus the horizon.
func (r *Redis) markAt(ctx context.Context, scopes []Scope, soft bool, until time.Time) (uint64, error) {
	args := make([]any, 0, 6+len(scopes))
	softArg := "0"
	if soft {
		softArg = "1"
	}
	now := r.now()
	at := MarkTime(until, now)
	floor := r.floor()
	args = append(args, softArg, at.UnixMilli(), (MarkHorizon - now.Sub(at)).Milliseconds(), r.t.logLength, floor, r.fresh(floor))
	for _, s := range scopes {
		args = append(args, s.String())
	}
	seq, err := purgeScript.Run(ctx, r.client, r.keys.scriptKeys(), args...).Uint64()
	if err != nil {
		return 0, fmt.Errorf("purge: redis: %w", err)
	}
	r.see(seq)
	r.catchUp(ctx)
	return seq, nil
}

// deferPurge applies a purge Redis refused to the local marks, at a value
// above every entry this instance filled (they carry at most the floor),
// and queues it for retries. It logs when the queue starts (not once per
// refused invalidation) and when it coalesces.
func (r *Redis) deferPurge(scopes []Scope, soft bool, err error) {
	p := &pendingPurge{scopes: scopes, soft: soft, local: r.floor() + 1}
	first, coalesced := r.pending.add(p, err)
	if coalesced {
		r.log.Warn("purge: too many invalidations wait for Redis; they are coalesced into one purge of everything",
			"scopes", maxPendingScopes, "bytes", maxPendingBytes)
		p = &pendingPurge{scopes: []Scope{{Kind: All}}, local: p.local}
	}
	r.marks.mu.Lock()
	r.setLocal(p)
	r.marks.mu.Unlock()
	if first {
		r.log.Warn("purge: Redis refused an invalidation; it is applied here and retried until Redis takes it "+
			"(more may follow: see /readyz and cachegate_purge_invalidations_pending)", "err", err)
	}
}

// setLocal sets the local marks of p. The caller holds r.marks.mu.
func (r *Redis) setLocal(p *pendingPurge) {
	now := r.now()
	for _, s := range p.scopes {
		r.marks.set(s, p.local, p.soft, now)
	}
}

// retryPending writes the queued invalidations, oldest first, until Redis
// refuses one.
func (r *Redis) retryPending(ctx context.Context) {
	for p := r.pending.head(); p != nil; p = r.pending.head() {
		if _, err := r.mark(ctx, p.scopes, p.soft); err != nil {
			r.pending.failed(err)
			return
		}
		r.pending.written(p)
		if n, _ := r.pending.state(); n == 0 {
			r.log.Info("purge: every invalidation Redis refused is now written")
		}
	}
}

// Pending returns how many invalidations Redis refused and that wait to
// be written (each is applied here meanwhile), how many Redis refused
// since start, and the last refusal.
func (r *Redis) Pending() (waiting int, refused uint64, last error) {
	waiting, last = r.pending.state()
	return waiting, r.pending.refused.Load(), last
}

// wait returns when every live instance has applied seq, or after the
// wait bound with the names of those that had not.
func (r *Redis) wait(ctx context.Context, seq uint64) ([]string, error) {
	deadline := r.now().Add(r.t.waitBound)
	for {
		pipe := r.client.Pipeline()
		statesCmd := pipe.HGetAll(ctx, r.keys.applied)
		bornCmd := pipe.HGet(ctx, r.keys.state, bornField)
		clock := pipe.Time(ctx)
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("purge: redis: instances: %w", err)
		}
		var lagging []string
		now := r.now()
		for id, state := range statesCmd.Val() {
			applied, at, ok := parseApplied(state)
			if !ok || now.Sub(at) > r.t.liveWindow {
				continue
			}
			if applied < seq {
				lagging = append(lagging, id)
			}
		}
		if (len(lagging) == 0 && !r.justRecreated(bornCmd, clock)) || now.After(deadline) {
			return lagging, nil
		}
		select {
		case <-ctx.Done():
			return lagging, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// justRecreated reports whether the purge state was recreated (Redis lost
// it) less than the live window ago, in Redis's clock. The instances that were
// cut off from Redis meanwhile are not in the applied hash yet (it was
// lost too) and may still serve from their L1 (store.tiered
// .l1_when_redis_down): a purge then waits the rest of that window, within
// its bound, so that they come back, catch up and report before it
// answers.
func (r *Redis) justRecreated(born *redis.StringCmd, clock *redis.TimeCmd) bool {
	at, err := born.Int64()
	if err != nil || clock.Err() != nil {
		return false
	}
	return clock.Val().Sub(time.Unix(at, 0)) < r.t.liveWindow
}

// parseApplied reads "seq:unixmillis".
func parseApplied(s string) (uint64, time.Time, bool) {
	a, b, ok := strings.Cut(s, ":")
	seq, err1 := strconv.ParseUint(a, 10, 64)
	ms, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return 0, time.Time{}, false
	}
	return seq, time.UnixMilli(ms), true
}

// report writes the sequence this instance applied, with the time.
func (r *Redis) report(ctx context.Context) error {
	v := strconv.FormatUint(r.applied(), 10) + ":" + strconv.FormatInt(r.now().UnixMilli(), 10)
	if err := r.client.HSet(ctx, r.keys.applied, r.id, v).Err(); err != nil {
		return fmt.Errorf("purge: report applied: %w", err)
	}
	return nil
}

// syncAndReport brings the mirror up to date and reports it; only when
// both succeed is the lease renewed.
func (r *Redis) syncAndReport(ctx context.Context) error {
	r.catchMu.Lock()
	defer r.catchMu.Unlock()
	return r.syncLocked(ctx)
}

// syncLocked is syncAndReport with catchMu held. The report and the lease
// follow the subscription: an instance that cannot hear purges is not
// waited for, and reads the sequence on every lookup instead. The lease
// runs from the moment the read was sent, not answered: a pause in
// between shortens it, never lengthens it.
func (r *Redis) syncLocked(ctx context.Context) error {
	from := r.since()
	if err := r.syncMarks(ctx); err != nil {
		return err
	}
	if !r.sub.Healthy() {
		return nil
	}
	if err := r.report(ctx); err != nil {
		return err
	}
	r.renew(from)
	return nil
}

// catchUp brings the mirror up to date, logging a failure.
func (r *Redis) catchUp(ctx context.Context) {
	r.catchMu.Lock()
	defer r.catchMu.Unlock()
	if err := r.syncMarks(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn("purge: catching up with the purge log", "err", err)
	}
}

// syncMarks reads the sequence and applies the purges logged after the
// last applied one; when the log does not have them all, it reloads the
// marks whole; when Redis lost the purge state, the reload recreates it
// (a flush). It touches the times, so that an LRU or LFU eviction policy
// spares them as it spares the state and the log it reads. The caller
// holds catchMu.
func (r *Redis) syncMarks(ctx context.Context) error {
	for {
		applied := r.applied()
		pipe := r.client.Pipeline()
		seqCmd := pipe.HGet(ctx, r.keys.state, seqField)
		logCmd := pipe.XRangeN(ctx, r.keys.log, "(0-"+strconv.FormatUint(applied, 10), "+", 512)
		pipe.Touch(ctx, r.keys.times)
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("purge: redis: reading the purge state: %w", err)
		}
		seq, err := seqCmd.Uint64()
		if r.lostState(seq, err) {
			return r.reload(ctx)
		}
		if err != nil {
			return fmt.Errorf("purge: redis: reading the sequence: %w", err)
		}
		r.see(seq)
		if seq <= applied {
			return nil
		}
		msgs, err := logCmd.Result()
		if err != nil || len(msgs) == 0 {
			return r.reload(ctx)
		}
		if first, _ := logSeq(msgs[0].ID); first != applied+1 {
			return r.reload(ctx)
		}
		r.applyLog(msgs)
		if last, _ := logSeq(msgs[len(msgs)-1].ID); last < seq && len(msgs) < 512 {
			// The log lost the purges after last.
			return r.reload(ctx)
		}
	}
}

// applyLog applies purges read from the log, in order.
func (r *Redis) applyLog(msgs []redis.XMessage) {
	now := r.now()
	r.marks.mu.Lock()
	defer r.marks.mu.Unlock()
	for _, m := range msgs {
		seq, ok := logSeq(m.ID)
		if !ok {
			continue
		}
		soft := m.Values["s"] == "1"
		scopes, _ := m.Values["scopes"].(string)
		at := logTime(m.Values["at"], now)
		for _, line := range strings.Split(scopes, "\n") {
			if s, ok := parseScope(line); ok {
				r.marks.set(s, seq, soft, at)
			}
		}
		r.marks.applied = seq
	}
}

// readState reads the purge state hash and the mark times into into and
// returns the sequence.
func (r *Redis) readState(ctx context.Context, into *marks) (uint64, error) {
	pipe := r.client.Pipeline()
	fields := pipe.HGetAll(ctx, r.keys.state)
	times := pipe.ZRangeWithScores(ctx, r.keys.times, 0, -1)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("purge: redis: reloading marks: %w", err)
	}
	now := r.now()
	at := make(map[string]time.Time, len(times.Val()))
	for _, z := range times.Val() {
		if scope, ok := z.Member.(string); ok {
			at[scope] = earlier(time.UnixMilli(int64(z.Score)), now)
		}
	}
	return parseState(fields.Val(), into, at, now), nil
}

// reload replaces the mirror with the purge state in Redis, recreating
// the state first when Redis lost it. The local marks of invalidations
// that wait for Redis are kept.
func (r *Redis) reload(ctx context.Context) error {
	fresh := newMarks()
	seq, err := r.readState(ctx, fresh)
	if err != nil {
		return err
	}
	if seq == 0 || seq < r.floor() {
		if r.floor() > 0 {
			r.log.Warn("purge: Redis lost the purge state (evicted, flushed, restarted empty or failed over); "+
				"recreating it: every entry filled before counts as purged", "had", r.floor(), "redis", seq)
		}
		if _, err := r.ensure(ctx); err != nil {
			return err
		}
		fresh = newMarks()
		if seq, err = r.readState(ctx, fresh); err != nil {
			return err
		}
		if seq == 0 || seq < r.floor() {
			return fmt.Errorf("purge: redis: the purge state is still behind (%d < %d)", seq, r.floor())
		}
	}
	r.see(seq)
	r.marks.mu.Lock()
	defer r.marks.mu.Unlock()
	r.marks.all, r.marks.byKind, r.marks.count = fresh.all, fresh.byKind, fresh.count
	r.marks.patterns, r.marks.uncompiled = fresh.patterns, fresh.uncompiled
	r.marks.applied = max(r.marks.applied, seq)
	for _, p := range r.pending.snapshot() {
		r.setLocal(p)
	}
	return nil
}

// logTime reads a log entry's mark time (unix ms), so that the mirror
// trims a short-lived mark when Redis does; def when it has none (a log
// written before the field existed).
func logTime(v any, def time.Time) time.Time {
	s, _ := v.(string)
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return def
	}
	return earlier(time.UnixMilli(ms), def)
}

// subscribed catches up when the subscription comes up, at start and
// after a loss (purges published meanwhile were not heard); the
// subscription's health, with the lease, decides whether Check may trust
// the mirror alone.
func (r *Redis) subscribed(ctx context.Context, gap redisx.Gap) {
	if gap.Resubscribed {
		r.log.Info("purge: subscribed again", "instance", r.id, "down", gap.Down)
	} else {
		r.log.Info("purge: subscribed", "instance", r.id)
	}
	r.checkPolicy(ctx)
	r.syncAndLog(ctx)
}

// unsubscribed logs a lost subscription.
func (r *Redis) unsubscribed(_ context.Context, err error) {
	r.log.Warn("purge: subscription lost; checking Redis on every lookup", "err", err)
}

// syncAndLog catches up with the purge log and reports, logging a failure.
func (r *Redis) syncAndLog(ctx context.Context) {
	if err := r.syncAndReport(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn("purge: catching up with the purge log", "err", err)
	}
}

// beat reads the sequence and reports liveness while the subscription is
// healthy (an instance that cannot hear purges must not be waited for: it
// checks Redis on each lookup instead), which renews the lease and keeps
// the purge keys recently used; retries the invalidations Redis refused;
// and trims old marks.
func (r *Redis) beat(ctx context.Context) {
	defer r.done.Done()
	tick := time.NewTicker(r.t.heartbeat)
	defer tick.Stop()
	for n := 0; ; n++ {
		if r.sub.Healthy() {
			if err := r.syncAndReport(ctx); err != nil && ctx.Err() == nil {
				r.log.Debug("purge: heartbeat", "err", err)
			}
		}
		r.retryPending(ctx)
		if n%1000 == 0 {
			r.marks.trim(r.now().Add(-MarkHorizon))
			if dead := r.deadInstances(ctx); len(dead) > 0 {
				r.client.HDel(ctx, r.keys.applied, dead...)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// deadInstances lists the instances silent for longer than deadAfter (a
// minute).
func (r *Redis) deadInstances(ctx context.Context) []string {
	states, _ := r.client.HGetAll(ctx, r.keys.applied).Result()
	dead := []string{}
	for id, s := range states {
		if _, at, ok := parseApplied(s); !ok || r.now().Sub(at) > r.t.deadAfter {
			dead = append(dead, id)
		}
	}
	return dead
}

// Close stops the subscription and heartbeat and removes this instance
// from the ones purges wait for.
func (r *Redis) Close() error {
	r.cancel()
	r.done.Wait()
	r.sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return r.client.HDel(ctx, r.keys.applied, r.id).Err()
}
