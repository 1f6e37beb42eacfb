package collapse

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

func TestHitForPassKeysAreBoundedAndExpire(t *testing.T) {
	g := New(nil, "", withDefaults(Options{HitForPass: 10 * time.Second, HitForPassKeys: 100}), testutil.DiscardLogger())
	defer g.Close()
	now := time.Unix(1_000_000, 0)
	g.now = func() time.Time { return now }
	uncacheable := func(Settle) (Outcome, any) { return Uncacheable, nil }
	ctx := context.Background()
	// A client requesting distinct uncacheable URLs, one after another.
	for i := range 10_000 {
		g.Do(ctx, fmt.Sprintf("url-%d", i), uncacheable, nil)
	}
	if n := g.PassKeys(); n > 100 {
		t.Errorf("after 10000 distinct uncacheable keys %d are remembered, want at most the bound 100", n)
	}
	// The newest keys are still in hit-for-pass: no wait, no fill.
	if out, _, shared := g.Do(ctx, "url-9999", func(Settle) (Outcome, any) { return Stored, nil }, nil); out != Uncacheable || !shared {
		t.Errorf("the newest key: %v shared=%v, want hit-for-pass (uncacheable, shared)", out, shared)
	}
	// Once their time has passed, the next key added sweeps them all.
	now = now.Add(11 * time.Second)
	g.Do(ctx, "late", uncacheable, nil)
	if n := g.PassKeys(); n != 1 {
		t.Errorf("after the hit-for-pass time %d keys are remembered, want only the one just added", n)
	}
}

func TestAnUncacheableKeyRequestedOnceLeavesNothingInRedis(t *testing.T) {
	prefix := testutil.UniquePrefix(t)
	c := testutil.RedisClient(t)
	g := groupOn(t, prefix, withDefaults(Options{HitForPass: time.Minute}))
	for i := range 100 {
		g.Do(context.Background(), fmt.Sprintf("url-%d", i), func(Settle) (Outcome, any) { return Uncacheable, nil }, nil)
	}
	keys, err := c.Keys(context.Background(), prefix+":lease:*").Result()
	if err != nil || len(keys) != 0 {
		t.Errorf("100 uncacheable keys requested once left %d keys in Redis (%v), want none: nobody else wanted them", len(keys), err)
	}
}

func TestSetBoundsChangesTheHitForPassOfKeysMarkedAfterIt(t *testing.T) {
	g := New(nil, "", withDefaults(Options{HitForPass: time.Hour}), testutil.DiscardLogger())
	defer g.Close()
	now := time.Unix(1_000_000, 0)
	g.now = func() time.Time { return now }
	uncacheable := func(Settle) (Outcome, any) { return Uncacheable, nil }
	stored := func(Settle) (Outcome, any) { return Stored, nil }
	ctx := context.Background()
	g.SetBounds(time.Second, time.Minute) // as a reload of cache.collapse does
	g.Do(ctx, "k", uncacheable, nil)
	now = now.Add(2 * time.Minute)
	// Past the reloaded minute (within the first hour) the key fills again.
	if out, _, shared := g.Do(ctx, "k", stored, nil); out != Stored || shared {
		t.Errorf("two minutes after the key was marked: %v shared=%v, want its own fill (hit_for_pass 1m, not 1h)", out, shared)
	}
}
