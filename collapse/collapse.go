// Package collapse lets one request per key reach the origin when many
// miss at once: in the process, later requests wait for the first one's
// fill (a flight); across instances sharing a Redis, the first instance
// takes a lease (SET NX PX with a random token) and the others wait until
// it announces, by pub/sub, that the fill is stored, or that the response
// could not be stored (then they fetch for themselves, and keep fetching
// without waiting for a while: hit-for-pass). A waiter never waits longer
// than a bound; a lease whose holder died expires and is taken over.
//
// Across instances the package hands out outcomes, never responses: a
// waiter elsewhere reads the stored entry itself, so a response that was
// not stored (Set-Cookie, private, a variant of other credentials) is
// never given to another client. In the process, the value a fill settles
// with (what it stored, or what the store failed to take: Unstored) is
// handed to the requests that waited for it.
package collapse

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/internal/redisx"
)

// Outcome is what a fill ended in.
type Outcome int

const (
	// Failed: the origin or the client failed; others should try
	// themselves, no hit-for-pass.
	Failed Outcome = iota
	// Stored: the entry is in the store; others should read it.
	Stored
	// Uncacheable: the response may not be stored; others fetch for
	// themselves, and later requests do not wait either (hit-for-pass).
	Uncacheable
	// Unstored: the response could be stored, but the store failed to
	// take it (Redis down, full, timing out). The requests of this
	// process that waited get the value the fill settled with, so that an
	// outage of the store does not send each of them to the origin; the
	// waiters of other instances, which cannot read it, hear Failed and
	// fetch for themselves. No hit-for-pass: the next fill may store.
	Unstored
)

var outcomeNames = [...]string{Failed: "failed", Stored: "stored", Uncacheable: "uncacheable", Unstored: "unstored"}

// announced is the outcome the other instances hear of a fill that ended
// in o: what was not stored cannot be read there (Unstored is Failed).
func (o Outcome) announced() Outcome {
	if o == Unstored {
		return Failed
	}
	return o
}

func (o Outcome) String() string { return outcomeNames[o] }

// Options bound the waiting.
type Options struct {
	// Wait is the longest a request waits for another's fill
	// (cache.collapse.wait, whose default is config's). Required.
	Wait time.Duration
	// HitForPass is how long an uncacheable key is fetched without
	// collapsing (cache.collapse.hit_for_pass). Required.
	HitForPass time.Duration
	// Lease is how long a Redis lease lasts when its holder does not
	// release it (it died). Default Wait, following it when SetBounds
	// changes Wait.
	Lease time.Duration
	// HitForPassKeys bounds how many keys are remembered as hit-for-pass
	// in this process; past it the oldest are forgotten first (they then
	// collapse again once, which costs nothing but a wait). Default 10000:
	// about 2.5 MB (a 64-byte key, its list element and map slot).
	HitForPassKeys int
}

// Group collapses fills. A nil Redis client collapses in process only.
type Group struct {
	opts Options
	// wait, hitForPass and leaseTTL are Options' bounds as SetBounds
	// last set them (time.Duration); leaseIsWait says that Options.Lease
	// was unset, so that the lease follows wait.
	wait, hitForPass, leaseTTL atomic.Int64
	leaseIsWait                bool
	client                     redis.UniversalClient
	lease                      string // key prefix of leases, sharing one slot per key
	chann                      string
	log                        *slog.Logger

	mu      sync.Mutex
	flights map[string]*flight
	pass    *passKeys
	remote  map[string][]chan Outcome // local waiters of remote fills

	// urlFills counts the fills in flight here per URL, and
	// urlFillsPrefix prefixes their records in Redis (BeginURL).
	urlFills       map[string]int
	urlFillsPrefix string

	// sub hears the fill announcements of the other instances.
	sub *redisx.Subscription
	// down remembers a recent Redis failure: the leases and URL records
	// are then not asked for, each request would wait for a timeout.
	down redisx.RecentFailure
	// waitingRemote counts the requests of this process that wait for
	// another instance's fill, and waitErrors the lease reads that failed
	// while they waited (tests wait on them).
	waitingRemote atomic.Int32
	waitErrors    atomic.Int32
	now           func() time.Time
}

// flight is one fill in progress in this process.
type flight struct {
	done    chan struct{}
	outcome Outcome
	value   any
	// waiters counts the requests of this process that joined the flight.
	waiters atomic.Int32
}

// New returns a Group; with a Redis client it collapses across the
// instances sharing prefix, and Close stops its subscription.
func New(client redis.UniversalClient, prefix string, opts Options, log *slog.Logger) *Group {
	if opts.HitForPassKeys <= 0 {
		opts.HitForPassKeys = 10000
	}
	g := &Group{
		opts:    opts,
		client:  client,
		lease:   prefix + ":lease:",
		chann:   "{" + prefix + "}:fills",
		log:     log,
		flights: map[string]*flight{},
		pass:    newPassKeys(opts.HitForPassKeys),
		remote:  map[string][]chan Outcome{},
		now:     time.Now,
	}
	g.urlFills, g.urlFillsPrefix = map[string]int{}, prefix+":filling:"
	g.leaseIsWait = opts.Lease <= 0
	g.leaseTTL.Store(int64(opts.Lease))
	g.SetBounds(opts.Wait, opts.HitForPass)
	if client != nil {
		// A quiet channel's connection is pinged every second. Waiters
		// poll the lease too, so a lost announcement costs a poll, not a
		// fill: the group needs no resync when the subscription comes back.
		g.sub = redisx.NewSubscription(client, g.chann, time.Second, redisx.Handler{Message: g.dispatch})
		g.sub.Start()
	}
	return g
}

// SetBounds changes Wait and HitForPass (and the lease, when it follows
// Wait) for the waits and hit-for-pass marks that start after it: a
// reload of cache.collapse takes effect at once, without a new Group.
func (g *Group) SetBounds(wait, hitForPass time.Duration) {
	g.wait.Store(int64(wait))
	g.hitForPass.Store(int64(hitForPass))
	if g.leaseIsWait {
		g.leaseTTL.Store(int64(wait))
	}
}

// waitBound, hitForPassBound and leaseBound are the current bounds.
func (g *Group) waitBound() time.Duration       { return time.Duration(g.wait.Load()) }
func (g *Group) hitForPassBound() time.Duration { return time.Duration(g.hitForPass.Load()) }
func (g *Group) leaseBound() time.Duration      { return time.Duration(g.leaseTTL.Load()) }

// Close stops the subscription.
func (g *Group) Close() {
	if g.sub != nil {
		g.sub.Close()
	}
}

// Settle ends a fill's flight before the fill returns: the waiters get
// out and value at once, and the Redis lease is released with out. Only
// the first call (or the fill's return) counts. A fill that streams its
// response to a slow client settles as soon as the entry is stored, so
// that nobody waits for that client.
type Settle func(out Outcome, value any)

// Do runs fill for key unless another request, here or in another
// instance, is already filling it; then it waits for that fill (at most
// the Wait bound) and returns its outcome with shared set. A key in
// hit-for-pass returns Uncacheable at once, shared, without waiting.
//
// The fill may settle its flight early (Settle); otherwise its return
// settles it. Do returns when fill returns, with the settled outcome.
//
// The value fill settles with (the stored entry, or the one the store
// failed to take with Unstored) is handed to the requests of this process
// that waited for it; when the fill ran in another instance, load, if not
// nil, is called once, by the first waiter here, to read that value for
// all of them. Callers must still check that the
// value suits their request. After a shared outcome other than Stored or
// Unstored, or without a usable value, the caller fetches for itself.
func (g *Group) Do(ctx context.Context, key string, fill func(Settle) (Outcome, any), load func() any) (out Outcome, value any, shared bool) {
	g.mu.Lock()
	if g.pass.has(key, g.now()) {
		g.mu.Unlock()
		return Uncacheable, nil, true
	}
	if f, ok := g.flights[key]; ok {
		f.waiters.Add(1)
		g.mu.Unlock()
		out, value := g.waitLocal(ctx, f)
		return out, value, true
	}
	f := &flight{done: make(chan struct{})}
	g.flights[key] = f
	g.mu.Unlock()

	var once sync.Once
	end := func(out Outcome, value any) {
		once.Do(func() {
			f.outcome, f.value = out, value
			g.mu.Lock()
			delete(g.flights, key)
			if out == Uncacheable {
				now := g.now()
				g.pass.add(key, now, now.Add(g.hitForPassBound()))
			}
			g.mu.Unlock()
			close(f.done)
		})
	}
	// The flight ends even when fill panics (ReverseProxy aborts a
	// handler whose client or origin went away with a panic): its waiters
	// then see Failed and fetch for themselves.
	defer end(Failed, nil)
	// This request leads in the process; across instances it needs the
	// lease, or it waits for the holder.
	out, value, shared = g.lead(ctx, key, f, fill, end)
	if shared && out == Stored && load != nil {
		value = load()
	}
	end(out, value)
	return f.outcome, f.value, shared
}

// Filling reports whether key is being filled here or, with Redis, by
// any instance (its lease is held, and is not a hit-for-pass marker). A
// Redis error counts as filling: the caller cannot rule it out.
func (g *Group) Filling(ctx context.Context, key string) bool {
	g.mu.Lock()
	_, here := g.flights[key]
	g.mu.Unlock()
	if here {
		return true
	}
	if g.client == nil {
		return false
	}
	v, err := g.client.Get(ctx, g.lease+"{"+key+"}").Result()
	if errors.Is(err, redis.Nil) {
		return false
	}
	return err != nil || v != passMarker
}

// Waiting is the number of requests of this process that joined the
// fill of key in flight here (those that gave up waiting included; 0 when
// none is in flight): what a test waits on before it makes that fill end
// one way or another.
func (g *Group) Waiting(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.flights[key]; ok {
		return int(f.waiters.Load())
	}
	return 0
}

// PassKeys is the number of keys remembered as hit-for-pass, expired ones
// not yet dropped included.
func (g *Group) PassKeys() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pass.len()
}

func (g *Group) waitLocal(ctx context.Context, f *flight) (Outcome, any) {
	t := time.NewTimer(g.waitBound())
	defer t.Stop()
	select {
	case <-f.done:
		return f.outcome, f.value
	case <-t.C:
		return Failed, nil
	case <-ctx.Done():
		return Failed, nil
	}
}

// lead fills under the Redis lease, or waits for the instance holding it.
// end settles the local flight f.
func (g *Group) lead(ctx context.Context, key string, f *flight, fill func(Settle) (Outcome, any), end Settle) (Outcome, any, bool) {
	if g.client == nil {
		out, value := fill(end)
		return out, value, false
	}
	leaseKey := g.lease + "{" + key + "}"
	// Listen before trying the lease, so that a release between the try
	// and the wait is not missed.
	ch := g.listen(key)
	defer g.unlisten(key, ch)
	var lease *redisx.Lease
	err := errRedisDown
	if !g.down.Recent(g.now()) {
		lease, err = redisx.TryLease(ctx, g.client, leaseKey, g.leaseBound())
		g.down.Note(err, g.now())
	}
	if err != nil {
		// Redis is unreachable: collapse in process only, and do not ask it
		// again for a moment (each request would wait for a timeout).
		if !errors.Is(err, errRedisDown) && !errors.Is(err, context.Canceled) {
			g.log.Warn("collapse: no lease from Redis; collapsing in this process only for a moment", "key", key, "err", err)
		}
		out, value := fill(end)
		return out, value, false
	}
	if lease != nil {
		var released sync.Once
		release := func(out Outcome) {
			released.Do(func() { g.release(context.WithoutCancel(ctx), key, lease, out, f.waiters.Load() > 0) })
		}
		out := Failed
		defer func() { release(out) }()
		var value any
		out, value = fill(func(o Outcome, v any) { release(o); end(o, v) })
		return out, value, false
	}
	out, silent := g.waitRemote(ctx, key, leaseKey, ch)
	if silent {
		// Redis stopped answering while this request waited for another
		// instance's fill: it fills in the process, as when no lease could
		// be taken, so that the requests that joined it here share one
		// fill rather than each going to the origin.
		out, value := fill(end)
		return out, value, false
	}
	return out, nil, true
}

// errRedisDown stands for a lease not asked for: Redis failed a moment ago.
var errRedisDown = errors.New("collapse: redis failed a moment ago")

// passMarker is the value a released lease leaves for a key in
// hit-for-pass.
const passMarker = "pass"

// release ends the lease and announces out to the waiters of every
// instance (Unstored as Failed: they cannot read what was not stored).
// An uncacheable key is left in Redis as a hit-for-pass marker,
// for the requests other instances get later, only when it is wanted:
// when requests of this process waited for the fill. A URL requested once
// (a client walking distinct uncacheable URLs) then costs Redis nothing
// once its fill ends; a popular one is announced as before. Waiters in
// other instances learn the outcome from the announcement either way,
// also when the lease had expired (the fill outlived it).
func (g *Group) release(ctx context.Context, key string, lease *redisx.Lease, out Outcome, wanted bool) {
	var err error
	if out == Uncacheable && wanted {
		_, err = lease.ReleaseAs(ctx, passMarker, g.hitForPassBound())
	} else {
		_, err = lease.Release(ctx)
	}
	if err == nil {
		err = g.client.Publish(ctx, g.chann, out.announced().String()+" "+key).Err()
	}
	if err != nil {
		g.log.Warn("collapse: releasing the lease", "key", key, "err", err)
	}
}

// waitRemote waits for the lease holder's announcement, polling the lease
// in case a message is lost, at most the Wait bound. A lease read that
// fails is tried again at the next poll: one read that timed out (a busy
// machine, a Redis pausing for a moment) must not send this request, and
// those that joined its flight, to the origin while the holder's fill is
// still on its way. Only a Redis that has answered none of the waiter's
// reads for the failure pause (redisx.RecentFailure) counts as down: the
// waiter then stops waiting (silent), notes the failure as a lease that
// could not be taken would, and fills in the process (lead).
func (g *Group) waitRemote(ctx context.Context, key, leaseKey string, ch chan Outcome) (out Outcome, silent bool) {
	g.waitingRemote.Add(1)
	defer g.waitingRemote.Add(-1)
	deadline := time.NewTimer(g.waitBound())
	defer deadline.Stop()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	var failing time.Time // since when every lease read failed, or zero
	for {
		v, err := g.client.Get(ctx, leaseKey).Result()
		switch {
		case err == redis.Nil:
			return Stored, false // released or expired: read the store, fetch if absent
		case err != nil:
			if g.redisDownWhileWaiting(key, err, &failing) {
				return Failed, true
			}
		case v == passMarker:
			g.mu.Lock()
			now := g.now()
			g.pass.add(key, now, now.Add(g.hitForPassBound()))
			g.mu.Unlock()
			return Uncacheable, false
		default:
			failing = time.Time{}
		}
		select {
		case out := <-ch:
			return out, false
		case <-poll.C:
		case <-deadline.C:
			return Failed, false
		case <-ctx.Done():
			return Failed, false
		}
	}
}

// redisDownWhileWaiting counts a failed lease read err of a waiter for
// key whose reads have all failed since *failing (zero: this is the
// first), and reports whether Redis has now failed them for the failure
// pause: then the failure is noted and the waiter gives up.
func (g *Group) redisDownWhileWaiting(key string, err error, failing *time.Time) bool {
	g.waitErrors.Add(1)
	now := g.now()
	if failing.IsZero() {
		*failing = now
	}
	if now.Sub(*failing) < g.down.Window() {
		return false
	}
	g.log.Warn("collapse: Redis did not answer while waiting for another instance's fill; filling in this process", "key", key, "err", err)
	g.down.Note(err, now)
	return true
}

func (g *Group) listen(key string) chan Outcome {
	ch := make(chan Outcome, 1)
	g.mu.Lock()
	g.remote[key] = append(g.remote[key], ch)
	g.mu.Unlock()
	return ch
}

func (g *Group) unlisten(key string, ch chan Outcome) {
	g.mu.Lock()
	defer g.mu.Unlock()
	list := g.remote[key]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(g.remote, key)
	} else {
		g.remote[key] = list
	}
}

// dispatch hands a fill announcement to the local waiters of its key.
func (g *Group) dispatch(_ context.Context, m *redis.Message) {
	name, key, _ := strings.Cut(m.Payload, " ")
	out := Failed
	for o, n := range outcomeNames {
		if n == name {
			out = Outcome(o)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, ch := range g.remote[key] {
		select {
		case ch <- out:
		default:
		}
	}
}
