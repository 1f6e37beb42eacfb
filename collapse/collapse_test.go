package collapse

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/redisx"
	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/store/redistest"
)

func TestMain(m *testing.M) { testutil.MainWithRedis(m) }

// groupOn is a group on the package's redis-server under prefix, with a
// client of its own, as an instance has; it is closed when t ends.
func groupOn(t *testing.T, prefix string, opts Options) *Group {
	g := New(testutil.RedisClient(t), prefix, withDefaults(opts), testutil.DiscardLogger())
	t.Cleanup(g.Close)
	return g
}

// instances returns two groups sharing one prefix in Redis, as two
// instances would, once both hear the fill announcements.
func instances(t *testing.T, opts Options) (a, b *Group) {
	prefix := testutil.UniquePrefix(t)
	a, b = groupOn(t, prefix, opts), groupOn(t, prefix, opts)
	testutil.Eventually(t, 10*time.Second, "both subscriptions are up", func() bool { return a.sub.Healthy() && b.sub.Healthy() })
	return a, b
}

// waiting is how many requests of the groups wait for another's fill of
// key: joined this process's flight, or wait for another instance.
func waiting(key string, groups ...*Group) int {
	n := 0
	for _, g := range groups {
		n += g.Waiting(key) + int(g.waitingRemote.Load())
	}
	return n
}

// awaitWaiters waits until n requests of the groups wait for another's
// fill of key. Any goroutine may call it (a fill runs on the goroutine of
// its Do): after ten seconds, a bound for a broken build and not a timing,
// it fails the test and returns false.
func awaitWaiters(t *testing.T, n int, key string, groups ...*Group) bool {
	t.Helper()
	return testutil.Await(t, 10*time.Second, fmt.Sprintf("%d requests wait for the fill of %s", n, key), func() bool { return waiting(key, groups...) == n })
}

// fillAfterWaiters returns a fill that ends in out once the other n-1
// requests for key on the groups wait for it, so that none of them can
// come too late to share it.
func fillAfterWaiters(t *testing.T, key string, n int, out Outcome, groups ...*Group) func() Outcome {
	return func() Outcome {
		awaitWaiters(t, n-1, key, groups...)
		return out
	}
}

// burst runs n concurrent Do calls for key on the groups in turn and
// returns how many fills ran and how many callers shared another's.
func burst(groups []*Group, key string, n int, fill func() Outcome) (fills, shared int64) {
	var nf, ns atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, sh := groups[i%len(groups)].Do(context.Background(), key, func(Settle) (Outcome, any) {
				nf.Add(1)
				return fill(), nil
			}, nil)
			if sh {
				ns.Add(1)
			}
		}()
	}
	wg.Wait()
	return nf.Load(), ns.Load()
}

func TestOneFillPerKeyInProcess(t *testing.T) {
	g := New(nil, "", withDefaults(Options{}), testutil.DiscardLogger())
	fills, shared := burst([]*Group{g}, "k", 50, fillAfterWaiters(t, "k", 50, Stored, g))
	if fills != 1 || shared != 49 {
		t.Errorf("fills %d shared %d, want 1 and 49", fills, shared)
	}
}

func TestOneFillPerKeyAcrossInstances(t *testing.T) {
	a, b := instances(t, Options{})
	fills, shared := burst([]*Group{a, b}, "k", 100, fillAfterWaiters(t, "k", 100, Stored, a, b))
	if fills != 1 || shared != 99 {
		t.Errorf("fills %d shared %d over two instances, want 1 and 99", fills, shared)
	}
}

func TestUncacheableTurnsIntoHitForPassEverywhere(t *testing.T) {
	a, b := instances(t, Options{HitForPass: time.Minute})
	// A popular key: another request of a waits for the fill.
	out, _, shared := a.Do(context.Background(), "k", func(Settle) (Outcome, any) {
		go a.Do(context.Background(), "k", func(Settle) (Outcome, any) { return Failed, nil }, nil)
		awaitWaiters(t, 1, "k", a)
		return Uncacheable, nil
	}, nil)
	if out != Uncacheable || shared {
		t.Fatalf("leader: %v shared %v", out, shared)
	}
	for _, g := range []*Group{a, b} {
		ran := false
		out, _, shared := g.Do(context.Background(), "k", func(Settle) (Outcome, any) { ran = true; return Stored, nil }, nil)
		if ran || out != Uncacheable || !shared {
			t.Errorf("after an uncacheable fill: ran %v, outcome %v shared %v; want hit-for-pass without a fill", ran, out, shared)
		}
	}
}

// A fill whose response the store failed to take (Unstored) hands it to
// the requests of its process that waited, and only to them: the waiters
// of another instance, which cannot read it, hear Failed and fetch for
// themselves, without load. The key does not turn hit-for-pass.
func TestAnUnstoredFillHandsItsValueToTheWaitersOfItsProcessAndFailedToOtherInstances(t *testing.T) {
	a, b := instances(t, Options{HitForPass: time.Minute})
	type result struct {
		out   Outcome
		value any
	}
	const perGroup = 10
	results := map[*Group][]result{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	waiter := func(g *Group) {
		defer wg.Done()
		out, value, _ := g.Do(context.Background(), "k", func(Settle) (Outcome, any) { return Failed, "a second fill" }, func() any { return nil })
		mu.Lock()
		results[g] = append(results[g], result{out, value})
		mu.Unlock()
	}
	a.Do(context.Background(), "k", func(Settle) (Outcome, any) {
		for _, g := range []*Group{a, b} {
			for range perGroup {
				wg.Add(1)
				go waiter(g)
			}
		}
		awaitWaiters(t, 2*perGroup, "k", a, b)
		return Unstored, "not stored"
	}, nil)
	wg.Wait()
	for i, r := range results[a] {
		if r != (result{Unstored, "not stored"}) {
			t.Errorf("waiter %d of the filling instance got %v %v, want unstored and the fill's value", i, r.out, r.value)
		}
	}
	// The other instance hears failed, or finds the lease gone before the
	// announcement (stored: it reads the store, and load finds nothing).
	for i, r := range results[b] {
		if r.out == Unstored || r.value != nil {
			t.Errorf("waiter %d of the other instance got %v %v, want failed (or stored) without a value", i, r.out, r.value)
		}
	}
	ran := false
	a.Do(context.Background(), "k", func(Settle) (Outcome, any) { ran = true; return Stored, nil }, nil)
	if !ran {
		t.Error("the next request did not fill: an unstored fill must not make the key hit-for-pass")
	}
}

func TestFlightEndsWhenTheFillPanics(t *testing.T) {
	g := New(nil, "", withDefaults(Options{Wait: time.Minute}), testutil.DiscardLogger())
	started := make(chan struct{})
	go func() {
		defer func() { recover() }()
		g.Do(context.Background(), "k", func(Settle) (Outcome, any) {
			close(started)
			awaitWaiters(t, 1, "k", g)
			panic("abort")
		}, nil)
	}()
	<-started
	out, _, shared := g.Do(context.Background(), "k", func(Settle) (Outcome, any) { return Stored, nil }, nil)
	if out != Failed || !shared {
		t.Errorf("waiter of a panicked fill: %v shared %v, want Failed (then it fetches itself)", out, shared)
	}
	if g.flying("k") {
		t.Error("the flight of a panicked fill is still registered")
	}
}

func TestLeaseOfADeadHolderIsTakenOver(t *testing.T) {
	c := testutil.RedisClient(t)
	prefix := testutil.UniquePrefix(t)
	g := groupOn(t, prefix, withDefaults(Options{Wait: time.Minute}))
	// A holder that died: its lease stays until it expires, which it does
	// while a request waits for it.
	leaseKey := prefix + ":lease:{k}"
	c.Set(context.Background(), leaseKey, "dead-token", 0)
	go func() {
		awaitWaiters(t, 1, "k", g)
		c.PExpire(context.Background(), leaseKey, time.Millisecond)
	}()
	out, _, shared := g.Do(context.Background(), "k", func(Settle) (Outcome, any) { return Stored, nil }, nil)
	if !shared || out != Stored {
		t.Fatalf("while the dead lease lasts: %v shared %v, want to wait for it to end", out, shared)
	}
	ran := false
	g.Do(context.Background(), "k", func(Settle) (Outcome, any) { ran = true; return Stored, nil }, nil)
	if !ran {
		t.Error("after the dead holder's lease expired, the next request did not take it over")
	}
}

func TestWaitersGetTheFillsValueAndLoadRunsOncePerInstance(t *testing.T) {
	a, b := instances(t, Options{})
	fill := fillAfterWaiters(t, "k", 40, Stored, a, b)
	var loads atomic.Int64
	var wg sync.WaitGroup
	values := make([]any, 40)
	for i := range values {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := []*Group{a, b}[i%2]
			_, values[i], _ = g.Do(context.Background(), "k", func(Settle) (Outcome, any) {
				return fill(), "filled"
			}, func() any { loads.Add(1); return "loaded" })
		}()
	}
	wg.Wait()
	for i, v := range values {
		if v != "filled" && v != "loaded" {
			t.Errorf("waiter %d got %v, want the fill's value or the loaded one", i, v)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Errorf("load ran %d times, want once (by the instance that did not fill)", n)
	}
}

func TestAFillThatSettlesEarlyReleasesItsWaitersBeforeItReturns(t *testing.T) {
	g := New(nil, "", withDefaults(Options{Wait: time.Minute}), testutil.DiscardLogger())
	started, settle, finish := make(chan struct{}), make(chan struct{}), make(chan struct{})
	returned := make(chan Outcome, 1)
	go func() {
		out, _, _ := g.Do(context.Background(), "k", func(s Settle) (Outcome, any) {
			close(started)
			<-settle
			s(Stored, "entry")
			<-finish // the leader's own client is still reading
			return Failed, nil
		}, nil)
		returned <- out
	}()
	<-started
	waited := make(chan struct{})
	var out Outcome
	var value any
	ran := false
	go func() {
		defer close(waited)
		out, value, _ = g.Do(context.Background(), "k", func(Settle) (Outcome, any) { ran = true; return Failed, nil }, nil)
	}()
	if !awaitWaiters(t, 1, "k", g) {
		t.FailNow()
	}
	close(settle)
	select {
	case <-waited: // before finish: the leader is still "streaming"
	case <-time.After(30 * time.Second):
		close(finish)
		t.Fatal("the waiter was not released by the settled fill; it waited for the leader's return")
	}
	if ran || out != Stored || value != "entry" {
		t.Errorf("waiter while the leader still streams: ran a fill %v, got %v %v; want the settled Stored entry", ran, out, value)
	}
	close(finish)
	if out := <-returned; out != Stored {
		t.Errorf("the leader's Do returned %v, want the settled Stored (its own later return does not count)", out)
	}
}

func TestAFillThatSettlesEarlyReleasesItsLeaseBeforeItReturns(t *testing.T) {
	c := testutil.RedisClient(t)
	prefix := testutil.UniquePrefix(t)
	g := groupOn(t, prefix, withDefaults(Options{Wait: time.Minute}))
	leaseKey := prefix + ":lease:{k}"
	g.Do(context.Background(), "k", func(settle Settle) (Outcome, any) {
		if n, err := c.Exists(context.Background(), leaseKey).Result(); err != nil || n != 1 {
			t.Fatalf("the lease is not held during the fill: %d %v", n, err)
		}
		settle(Stored, nil)
		if n, err := c.Exists(context.Background(), leaseKey).Result(); err != nil || n != 0 {
			t.Errorf("after settling, the lease is still held (%d %v): other instances would wait for the leader's client", n, err)
		}
		return Stored, nil
	}, nil)
}

// countingHook counts the commands a client sends.
type countingHook struct{ n atomic.Int64 }

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

func TestAfterARedisFailureFillsRunInProcessWithoutAskingRedisForAMoment(t *testing.T) {
	down, err := redistest.New()
	if err != nil {
		t.Fatal(err)
	}
	down.Close() // nothing listens on its address any more
	c := redis.NewClient(&redis.Options{Addr: down.Addr(), MaxRetries: -1, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	defer c.Close()
	calls := &countingHook{}
	c.AddHook(calls)
	g := New(c, testutil.UniquePrefix(t), withDefaults(Options{}), testutil.DiscardLogger())
	defer g.Close()
	now := time.Unix(1_000_000, 0)
	g.now = func() time.Time { return now }
	fill := func() (ran bool) {
		g.Do(context.Background(), "k", func(Settle) (Outcome, any) { ran = true; return Stored, nil }, nil)
		return ran
	}
	if !fill() {
		t.Fatal("with Redis down the request did not fill for itself")
	}
	asked := calls.n.Load()
	if asked == 0 {
		t.Fatal("the first request did not ask Redis for the lease")
	}
	for range 10 {
		if !fill() {
			t.Fatal("with Redis down a request did not fill for itself")
		}
	}
	g.BeginURL(context.Background(), "u")()
	if n := calls.n.Load(); n != asked {
		t.Errorf("requests right after the failure sent %d commands to Redis; want none for a moment", n-asked)
	}
	now = now.Add(redisx.FailurePause)
	fill()
	if calls.n.Load() == asked {
		t.Error("a request after the pause did not ask Redis again")
	}
}

// flying reports whether key is being filled in this process.
func (g *Group) flying(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.flights[key]
	return ok
}

// withDefaults is opts with the bounds it leaves zero at cache.collapse's
// defaults (config.Default), as main passes them.
func withDefaults(opts Options) Options {
	cc := config.Default().Cache.Collapse
	if opts.Wait == 0 {
		opts.Wait = cc.Wait.D()
	}
	if opts.HitForPass == 0 {
		opts.HitForPass = cc.HitForPass.D()
	}
	return opts
}
