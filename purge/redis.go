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

	"github.com/cachegate/cachegate/store"
)

// Bounds of the Redis purger.
const (
	// logLength is about how many purges the log keeps (XADD MAXLEN ~); an
	// instance further behind reloads the marks whole.
	logLength = 10000
	// heartbeat is how often an instance reports the sequence it applied;
	// an instance silent for liveWindow is no longer waited for.
	heartbeat  = 500 * time.Millisecond
	liveWindow = 3 * time.Second
	// waitBound is how long a purge call waits for the live instances.
	waitBound = 2 * time.Second
)

// purgeScript takes the next sequence value, records it as the mark of
// every scope (ARGV[5:]) with the mark time ARGV[2] (unix ms; a mark's
// time only moves forward, ZADD GT), drops marks whose time is older than
// ARGV[2] - ARGV[3], appends the purge and its mark time to the log with
// the sequence value as its ID, and publishes it. All its keys share the
// {prefix} hash tag, so it runs in one slot.
var purgeScript = redis.NewScript(`
local seq = redis.call('INCR', KEYS[1])
local marks = KEYS[2]
if ARGV[1] == '1' then marks = KEYS[3] end
for i = 5, #ARGV do
  redis.call('HSET', marks, ARGV[i], seq)
  redis.call('ZADD', KEYS[4], 'GT', ARGV[2], ARGV[i])
end
local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', tonumber(ARGV[2]) - tonumber(ARGV[3]), 'LIMIT', 0, 1000)
for _, s in ipairs(old) do
  redis.call('HDEL', KEYS[2], s)
  redis.call('HDEL', KEYS[3], s)
  redis.call('ZREM', KEYS[4], s)
end
local scopes = {}
for i = 5, #ARGV do scopes[#scopes + 1] = ARGV[i] end
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[4], '0-' .. seq, 's', ARGV[1], 'at', ARGV[2], 'scopes', table.concat(scopes, '\n'))
redis.call('PUBLISH', KEYS[6], seq)
return seq
`)

// raiseScript sets the sequence to at least ARGV[1]: after Redis lost its
// data, new purges must still sort after every entry an instance holds.
var raiseScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) return tonumber(ARGV[1]) end
return cur
`)

// Redis is the Purger of instances sharing a Redis.
type Redis struct {
	client redis.UniversalClient
	keys   redisKeys
	id     string
	log    *slog.Logger
	marks  *marks
	now    func() time.Time

	catchMu sync.Mutex // one catch-up at a time
	healthy atomic.Bool
	// down remembers a recent Redis failure, so that requests do not each
	// wait for a timeout while Redis does not answer.
	down   downSince
	cancel context.CancelFunc
	done   sync.WaitGroup
}

type redisKeys struct {
	seq, hard, soft, times, log, channel, applied string
}

// NewRedis returns a Purger on client under key prefix and starts its
// subscription and heartbeat, stopped by Close. It does not fail when
// Redis is down: it catches up when Redis answers.
func NewRedis(client redis.UniversalClient, prefix string, log *slog.Logger) *Redis {
	tag := "{" + prefix + "}"
	r := &Redis{
		client: client,
		keys: redisKeys{
			seq:     tag + ":purge:seq",
			hard:    tag + ":purge:hard",
			soft:    tag + ":purge:soft",
			times:   tag + ":purge:times",
			log:     tag + ":purge:log",
			channel: tag + ":purge:events",
			applied: tag + ":purge:applied",
		},
		id:    instanceID(),
		log:   log,
		marks: newMarks(),
		now:   time.Now,
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.done.Add(2)
	go r.subscribe(ctx)
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

// Healthy reports whether the subscription is up, so that purges reach
// this instance as they happen.
func (r *Redis) Healthy() bool { return r.healthy.Load() }

// Check implements Purger. While the subscription is down the instance
// cannot be told of purges, so it asks Redis for the sequence first and
// catches up when it is behind.
func (r *Redis) Check(ctx context.Context, e *store.Entry) Validity {
	if !r.healthy.Load() && !r.down.recent(r.now()) {
		seq, err := r.client.Get(ctx, r.keys.seq).Uint64()
		r.down.note(err, r.now())
		if err == nil && seq > r.applied() {
			r.catchUp(ctx)
		}
	}
	return r.marks.check(e)
}

// FillSeq implements Purger: the sequence in Redis, or the last applied
// when Redis does not answer (no purge can happen then either).
func (r *Redis) FillSeq(ctx context.Context) uint64 {
	if r.down.recent(r.now()) {
		return r.applied()
	}
	seq, err := r.client.Get(ctx, r.keys.seq).Uint64()
	r.down.note(err, r.now())
	if err != nil {
		return r.applied()
	}
	return seq
}

func (r *Redis) applied() uint64 {
	r.marks.mu.RLock()
	defer r.marks.mu.RUnlock()
	return r.marks.applied
}

// Purge implements Purger.
func (r *Redis) Purge(ctx context.Context, scopes []Scope, soft bool) (Result, error) {
	seq, err := r.mark(ctx, scopes, soft)
	if err != nil {
		return Result{}, err
	}
	res := Result{Seq: seq, Scopes: len(scopes)}
	res.Lagging, err = r.wait(ctx, seq)
	return res, err
}

// Mark implements Purger.
func (r *Redis) Mark(ctx context.Context, scopes []Scope, until time.Time) error {
	_, err := r.markAt(ctx, scopes, false, until)
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
	args := make([]any, 0, 4+len(scopes))
	softArg := "0"
	if soft {
		softArg = "1"
	}
	now := r.now()
	at := MarkTime(until, now)
	args = append(args, softArg, at.UnixMilli(), (MarkHorizon - now.Sub(at)).Milliseconds(), logLength)
	for _, s := range scopes {
		args = append(args, s.String())
	}
	k := r.keys
	seq, err := purgeScript.Run(ctx, r.client, []string{k.seq, k.hard, k.soft, k.times, k.log, k.channel}, args...).Uint64()
	if err != nil {
		return 0, fmt.Errorf("purge: redis: %w", err)
	}
	r.catchUp(ctx)
	return seq, nil
}

// wait returns when every live instance has applied seq, or after
// waitBound with the names of those that had not.
func (r *Redis) wait(ctx context.Context, seq uint64) ([]string, error) {
	deadline := r.now().Add(waitBound)
	for {
		states, err := r.client.HGetAll(ctx, r.keys.applied).Result()
		if err != nil {
			return nil, fmt.Errorf("purge: redis: instances: %w", err)
		}
		var lagging []string
		now := r.now()
		for id, state := range states {
			applied, at, ok := parseApplied(state)
			if !ok || now.Sub(at) > liveWindow {
				continue
			}
			if applied < seq {
				lagging = append(lagging, id)
			}
		}
		if len(lagging) == 0 || now.After(deadline) {
			return lagging, nil
		}
		select {
		case <-ctx.Done():
			return lagging, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
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
func (r *Redis) report(ctx context.Context) {
	v := strconv.FormatUint(r.applied(), 10) + ":" + strconv.FormatInt(r.now().UnixMilli(), 10)
	if err := r.client.HSet(ctx, r.keys.applied, r.id, v).Err(); err != nil && ctx.Err() == nil {
		r.log.Debug("purge: report applied", "err", err)
	}
}

// catchUp applies the purges logged after the last applied one; when the
// log no longer has them, it reloads the marks whole.
func (r *Redis) catchUp(ctx context.Context) {
	r.catchMu.Lock()
	defer r.catchMu.Unlock()
	for {
		applied := r.applied()
		msgs, err := r.client.XRangeN(ctx, r.keys.log, "(0-"+strconv.FormatUint(applied, 10), "+", 512).Result()
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("purge: reading the purge log", "err", err)
			}
			return
		}
		if len(msgs) == 0 {
			r.checkReset(ctx, applied)
			return
		}
		if first, _ := logSeq(msgs[0].ID); first != applied+1 {
			r.reload(ctx)
			return
		}
		now := r.now()
		r.marks.mu.Lock()
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
		r.marks.mu.Unlock()
		if len(msgs) < 512 {
			return
		}
	}
}

// checkReset notices a Redis that lost its data (its sequence behind
// what this instance applied) and raises the sequence again.
func (r *Redis) checkReset(ctx context.Context, applied uint64) {
	seq, err := r.client.Get(ctx, r.keys.seq).Uint64()
	if (err == nil || errors.Is(err, redis.Nil)) && seq < applied {
		r.log.Warn("purge: Redis lost the purge sequence; raising it", "had", applied, "redis", seq)
		raiseScript.Run(ctx, r.client, []string{r.keys.seq}, applied)
	}
}

// reload replaces the mirror with the marks in Redis.
func (r *Redis) reload(ctx context.Context) {
	pipe := r.client.Pipeline()
	seqCmd := pipe.Get(ctx, r.keys.seq)
	hard := pipe.HGetAll(ctx, r.keys.hard)
	soft := pipe.HGetAll(ctx, r.keys.soft)
	times := pipe.ZRangeWithScores(ctx, r.keys.times, 0, -1)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		r.log.Warn("purge: reloading marks", "err", err)
		return
	}
	seq, _ := seqCmd.Uint64()
	fresh := newMarks()
	now := r.now()
	// The mark times, so that the mirror trims short-lived marks when
	// Redis does; a mark without one is kept the whole horizon from now.
	at := make(map[string]time.Time, len(times.Val()))
	for _, z := range times.Val() {
		if scope, ok := z.Member.(string); ok {
			at[scope] = earlier(time.UnixMilli(int64(z.Score)), now)
		}
	}
	for table, isSoft := range map[*redis.MapStringStringCmd]bool{hard: false, soft: true} {
		for scope, v := range table.Val() {
			s, ok1 := parseScope(scope)
			n, err := strconv.ParseUint(v, 10, 64)
			if ok1 && err == nil {
				t, ok := at[scope]
				if !ok {
					t = now
				}
				fresh.set(s, n, isSoft, t)
			}
		}
	}
	r.marks.mu.Lock()
	r.marks.all, r.marks.byKind, r.marks.count = fresh.all, fresh.byKind, fresh.count
	r.marks.applied = max(r.marks.applied, seq)
	r.marks.mu.Unlock()
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

// logSeq reads the sequence value from a log entry ID "0-<seq>".
func logSeq(id string) (uint64, bool) {
	_, n, ok := strings.Cut(id, "-")
	seq, err := strconv.ParseUint(n, 10, 64)
	return seq, ok && err == nil
}

// subscribe listens for purges and catches up on each; the subscription's
// health decides whether Check may trust the mirror alone.
func (r *Redis) subscribe(ctx context.Context) {
	defer r.done.Done()
	ps := r.client.Subscribe(ctx, r.keys.channel)
	defer ps.Close()
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, heartbeat)
		switch msg.(type) {
		case *redis.Subscription, *redis.Message, *redis.Pong:
			if !r.healthy.Swap(true) {
				r.log.Info("purge: subscribed", "instance", r.id)
			}
			r.catchUp(ctx)
			r.report(ctx)
			continue
		}
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			// Quiet channel: make sure the connection still lives.
			if err := ps.Ping(ctx); err == nil {
				continue
			}
		}
		if ctx.Err() != nil {
			return
		}
		if r.healthy.Swap(false) {
			r.log.Warn("purge: subscription lost; checking Redis on every lookup", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// beat reports liveness while the subscription is healthy (an instance
// that cannot hear purges must not be waited for: it checks Redis on each
// lookup instead), catches up in case a message was lost, and trims old
// marks.
func (r *Redis) beat(ctx context.Context) {
	defer r.done.Done()
	r.reload(ctx)
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !r.healthy.Load() {
			continue
		}
		r.catchUp(ctx)
		r.report(ctx)
		if n%1000 == 0 {
			r.marks.trim(r.now().Add(-MarkHorizon))
			if dead := r.deadInstances(ctx); len(dead) > 0 {
				r.client.HDel(ctx, r.keys.applied, dead...)
			}
		}
	}
}

// deadInstances lists the instances silent for a minute.
func (r *Redis) deadInstances(ctx context.Context) []string {
	states, _ := r.client.HGetAll(ctx, r.keys.applied).Result()
	dead := []string{}
	for id, s := range states {
		if _, at, ok := parseApplied(s); !ok || r.now().Sub(at) > time.Minute {
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
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return r.client.HDel(ctx, r.keys.applied, r.id).Err()
}

// downSince remembers when a call to Redis last failed; for a second after
// that, the per-request calls are skipped (Redis unreachable: there can be
// no purge to learn of either).
type downSince struct{ at atomic.Int64 }

// downFor is how long a failure keeps the per-request calls off Redis.
const downFor = time.Second

func (d *downSince) note(err error, now time.Time) {
	if err != nil && !errors.Is(err, redis.Nil) {
		d.at.Store(now.UnixNano())
	}
}

func (d *downSince) recent(now time.Time) bool {
	at := d.at.Load()
	return at != 0 && now.UnixNano()-at < int64(downFor)
}
