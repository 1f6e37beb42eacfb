package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/store/redistest"
)

// tieredFixture is a Tiered store over its own redis-server (which tests
// stop), with a fake clock shared by the Tiered store and its L1.
type tieredFixture struct {
	srv     *redistest.Server
	l2      *Redis
	l1      *Memory
	t       *Tiered
	clock   *fakeClock
	trusted atomic.Bool
}

func newTieredFixture(t *testing.T, l1Bytes int64) *tieredFixture {
	t.Helper()
	srv := testutil.OwnRedis(t)
	f := &tieredFixture{srv: srv, clock: &fakeClock{t: time.Now()}}
	f.l2 = newTestRedis(t, config.RedisConfig{Addrs: []string{srv.Addr()}})
	f.l1 = NewMemory(l1Bytes)
	f.l1.now = f.clock.Now
	f.trusted.Store(true)
	f.t = NewTiered(f.l1, f.l2, TieredOptions{Trusted: f.trusted.Load})
	f.t.now = f.clock.Now
	return f
}

// freshEntry returns a response entry of about size bytes received now
// and fresh for freshness.
func (f *tieredFixture) freshEntry(size int64, freshness time.Duration) *Entry {
	e := bodyEntry(size)
	e.ResponseTime = f.clock.Now()
	e.Freshness = freshness
	return e
}

func TestTieredL1HitDoesNotAskRedis(t *testing.T) {
	ctx := context.Background()
	f := newTieredFixture(t, 1<<20)
	e := f.freshEntry(1024, time.Minute)
	if err := f.t.Set(ctx, "k", e, time.Hour); err != nil {
		t.Fatalf("Set: %v", err)
	}
	f.srv.Stop()
	got, err := f.t.Get(ctx, "k")
	if err != nil {
		t.Fatalf("Get with Redis stopped and L1 trusted: %v, want the L1 copy", err)
	}
	if got != e {
		t.Errorf("Get returned %p, want the pointer Set stored in L1 (%p)", got, e)
	}
}

func TestTieredUntrustedBypassesL1(t *testing.T) {
	ctx := context.Background()
	f := newTieredFixture(t, 1<<20)
	if err := f.t.Set(ctx, "k", f.freshEntry(1024, time.Minute), time.Hour); err != nil {
		t.Fatalf("Set: %v", err)
	}
	f.trusted.Store(false)
	f.srv.Stop()
	if _, err := f.t.Get(ctx, "k"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("untrusted Get with Redis stopped: err %v, want a Redis error (L1 bypassed)", err)
	}
	f.trusted.Store(true)
	if _, err := f.t.Get(ctx, "k"); err != nil {
		t.Errorf("trusted again, Get: %v, want the L1 copy (an L2 error must not drop it)", err)
	}
}

func TestTieredUntrustedGetDropsL1CopyMissingFromL2(t *testing.T) {
	ctx := context.Background()
	f := newTieredFixture(t, 1<<20)
	if err := f.t.Set(ctx, "k", f.freshEntry(1024, time.Minute), time.Hour); err != nil {
		t.Fatal(err)
	}
	f.trusted.Store(false)
	// Another instance purges k while this one's subscription is down.
	if err := f.l2.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.t.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("untrusted Get of a key purged from L2: err %v, want ErrNotFound", err)
	}
	if _, err := f.l1.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Errorf("L1 still holds a key that L2 no longer has (err %v), want it dropped", err)
	}
}

func TestTieredAdmitsL2EntryOnSecondRequest(t *testing.T) {
	ctx := context.Background()
	f := newTieredFixture(t, 1<<20)
	e := f.freshEntry(1024, time.Minute)
	if err := f.l2.Set(ctx, "k", e, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := f.t.Get(ctx, "k"); err != nil {
		t.Fatalf("first Get: %v", err)
	}
	if _, err := f.l1.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after one request L1 holds the entry (err %v), want a one-hit wonder kept out", err)
	}
	if _, err := f.t.Get(ctx, "k"); err != nil {
		t.Fatalf("second Get: %v", err)
	}
	if _, err := f.l1.Get(ctx, "k"); err != nil {
		t.Errorf("after a second request L1 does not hold the entry: %v", err)
	}
	f.srv.Stop()
	if _, err := f.t.Get(ctx, "k"); err != nil {
		t.Errorf("third Get with Redis stopped: %v, want an L1 hit", err)
	}
}

func TestTieredDoesNotServeStaleFromL1(t *testing.T) {
	ctx := context.Background()
	f := newTieredFixture(t, 1<<20)
	if err := f.t.Set(ctx, "k", f.freshEntry(1024, time.Minute), time.Hour); err != nil {
		t.Fatal(err)
	}
	// Stale from the start: received two minutes ago, fresh for one.
	stale := f.freshEntry(1024, time.Minute)
	stale.ResponseTime = f.clock.Now().Add(-2 * time.Minute)
	if err := f.t.Set(ctx, "stale", stale, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := f.l1.Get(ctx, "stale"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a stale entry was put in L1 (err %v), want it in L2 only", err)
	}
	if got, err := f.t.Get(ctx, "stale"); err != nil || !got.ResponseTime.Equal(stale.ResponseTime) {
		t.Errorf("Get of a stale entry: %v, %v; want it from L2", got, err)
	}

	f.clock.Advance(time.Minute + time.Millisecond)
	f.srv.Stop()
	if _, err := f.t.Get(ctx, "k"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Get of an entry whose freshness elapsed, Redis stopped: err %v, want a Redis error (L1 must not serve it)", err)
	}
}

func TestTieredMarkerFromL2StaysOneSecond(t *testing.T) {
	ctx := context.Background()
	f := newTieredFixture(t, 1<<20)
	marker := &Entry{Vary: []string{"Accept-Encoding"}}
	if err := f.l2.Set(ctx, "m", marker, time.Hour); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := f.t.Get(ctx, "m"); err != nil {
			t.Fatalf("Get marker: %v", err)
		}
	}
	if _, err := f.l1.Get(ctx, "m"); err != nil {
		t.Fatalf("after two requests the marker is not in L1: %v", err)
	}
	f.clock.Advance(markerL1TTL)
	if _, err := f.l1.Get(ctx, "m"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a marker read from L2 is still in L1 after %v (err %v), want it expired", markerL1TTL, err)
	}
}

func TestTieredSetWritesL1WhenL2Fails(t *testing.T) {
	ctx := context.Background()
	f := newTieredFixture(t, 1<<20)
	f.srv.Stop()
	e := f.freshEntry(1024, time.Minute)
	if err := f.t.Set(ctx, "k", e, time.Hour); err == nil {
		t.Errorf("Set with Redis stopped: no error, want L2's")
	}
	if got, err := f.l1.Get(ctx, "k"); err != nil || got != e {
		t.Errorf("L1 after Set with Redis stopped: %p, %v; want the entry", got, err)
	}
}

func TestTieredDeleteRemovesFromBoth(t *testing.T) {
	ctx := context.Background()
	f := newTieredFixture(t, 1<<20)
	if err := f.t.Set(ctx, "k", f.freshEntry(1024, time.Minute), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := f.t.Delete(ctx, "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := f.l1.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Errorf("L1 after Delete: err %v, want ErrNotFound", err)
	}
	if _, err := f.l2.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Errorf("L2 after Delete: err %v, want ErrNotFound", err)
	}
}

func TestTieredL1NeverExceedsItsBytes(t *testing.T) {
	ctx := context.Background()
	const maxBytes = 64 << 10
	f := newTieredFixture(t, maxBytes)
	for i := range 200 {
		key := fmt.Sprintf("k%d", i%50)
		e := f.freshEntry(int64(512+rand.IntN(8<<10)), time.Minute)
		if i%3 == 0 {
			if err := f.l2.Set(ctx, key, e, time.Hour); err != nil {
				t.Fatal(err)
			}
		} else if err := f.t.Set(ctx, key, e, time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := f.t.Get(ctx, fmt.Sprintf("k%d", rand.IntN(50))); err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		if b := f.l1.Bytes(); b > maxBytes {
			t.Fatalf("after %d operations L1 holds %d bytes, above its bound %d", i+1, b, maxBytes)
		}
	}
}

func TestAdmissionForgetsOneHitKeysButNotFrequentOnes(t *testing.T) {
	a := newAdmission(1 << 12)
	for range 5 {
		a.record("frequent")
	}
	if a.record("once") {
		t.Fatal("a key requested for the first time was admitted")
	}
	// Fill the window with other keys until it ages once.
	for i := a.seen.Load() % a.window; i < a.window; i++ {
		a.record(fmt.Sprintf("filler%d", i))
	}
	if a.record("once") {
		t.Errorf("a key seen once in the last window was admitted on its first request of the next")
	}
	if !a.record("frequent") {
		t.Errorf("a key seen 5 times in the last window was not admitted on its first request of the next")
	}
}

func TestAdmissionCountersSaturateAndHalve(t *testing.T) {
	a := newAdmission(minAdmissionCapacity)
	const h = 0x1234_5678_9abc_def0
	for range 40 {
		a.increment(h)
	}
	if n := a.estimate(h); n != counterMax {
		t.Fatalf("after 40 increments the estimate is %d, want %d (saturated)", n, counterMax)
	}
	a.age()
	if n := a.estimate(h); n != counterMax/2 {
		t.Errorf("after aging the estimate is %d, want %d", n, counterMax/2)
	}
}

func TestAdmissionRecordDoesNotAllocate(t *testing.T) {
	a := newAdmission(1 << 16)
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("%064x", i)
	}
	i := 0
	if n := testing.AllocsPerRun(1000, func() { a.record(keys[i%len(keys)]); i++ }); n != 0 {
		t.Errorf("record allocates %v times a call, want 0", n)
	}
}

func BenchmarkTieredGetL1Parallel(b *testing.B) {
	ctx := context.Background()
	r, err := NewRedis(withDefaults(config.RedisConfig{Addrs: []string{testutil.Redis().Addr()}, KeyPrefix: "bench-tiered"}))
	if err != nil {
		b.Fatal(err)
	}
	var trusted atomic.Bool
	trusted.Store(true)
	t := NewTiered(NewMemory(256<<20), r, TieredOptions{Trusted: trusted.Load})
	defer t.Close()
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = fmt.Sprintf("%064x", i)
		e := bodyEntry(4096)
		e.ResponseTime, e.Freshness = time.Now(), time.Hour
		if err := t.L1().Set(ctx, keys[i], e, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(keys))
		for pb.Next() {
			if _, err := t.Get(ctx, keys[i%len(keys)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkTieredGetL2Parallel(b *testing.B) {
	ctx := context.Background()
	r, err := NewRedis(withDefaults(config.RedisConfig{Addrs: []string{testutil.Redis().Addr()}, KeyPrefix: "bench-tiered-l2"}))
	if err != nil {
		b.Fatal(err)
	}
	// Never trusted: every Get reads Redis and goes through admission.
	t := NewTiered(NewMemory(256<<20), r, TieredOptions{Trusted: func() bool { return false }})
	defer t.Close()
	e := bodyEntry(4096)
	e.ResponseTime, e.Freshness = time.Now(), time.Hour
	if err := r.Set(ctx, "k", e, time.Hour); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := t.Get(ctx, "k"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAdmissionRecordParallel(b *testing.B) {
	a := newAdmission(1 << 16)
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = fmt.Sprintf("%064x", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(keys))
		for pb.Next() {
			a.record(keys[i%len(keys)])
			i++
		}
	})
}
