package purge

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/store"
)

func TestMain(m *testing.M) { testutil.MainWithRedis(m) }

// testTiming is the purger's timing in tests: production's relations (a
// lease of two heartbeats, well below the live window) at durations a
// test can afford to wait for. The wait bound stays production's: a purge
// waits for it only when an instance lags, and a slow machine must not
// make an instance that applies the purge look lagging.
var testTiming = timing{
	logLength:  200,
	heartbeat:  25 * time.Millisecond,
	liveWindow: 300 * time.Millisecond,
	lease:      50 * time.Millisecond,
	waitBound:  defaultTiming.waitBound,
	downFor:    50 * time.Millisecond,
	deadAfter:  defaultTiming.deadAfter,
}

// newTestRedis is a purger with testTiming on its own client of the
// package's redis-server, under prefix, closed when tb ends.
func newTestRedis(tb testing.TB, prefix string) *Redis {
	return newTestRedisOn(tb, testutil.RedisClient(tb), prefix, testTiming)
}

// newTestRedisOn is newTestRedis on client c with timing t.
func newTestRedisOn(tb testing.TB, c redis.UniversalClient, prefix string, t timing) *Redis {
	p := newRedis(c, prefix, testutil.DiscardLogger(), monotonic(), t)
	tb.Cleanup(func() { p.Close() })
	return p
}

// waitHealthy waits until the purgers' subscriptions are up and each has
// reported what it applied (its mirror is trusted: the lease is renewed
// only after a report), so that purges wait for them.
func waitHealthy(tb testing.TB, ps ...*Redis) {
	tb.Helper()
	for _, p := range ps {
		testutil.Eventually(tb, 10*time.Second, "the purge subscription comes up and the instance reports", p.Trusted)
	}
}

func TestRedisPurgeIsAppliedByEveryInstanceWhenItReturns(t *testing.T) {
	ctx := context.Background()
	prefix := testutil.UniquePrefix(t)
	var ps []*Redis
	for range 3 {
		ps = append(ps, newTestRedis(t, prefix))
	}
	waitHealthy(t, ps...)
	for round := range 20 {
		e := &store.Entry{Key: "http://a.example/x", URL: "a.example/x", Host: "a.example", Tags: []string{"t"}, Status: 200, Seq: ps[0].FillSeq(ctx)}
		res, err := ps[round%3].Purge(ctx, []Scope{{Kind: Tag, Value: "t"}}, false)
		if err != nil || len(res.Lagging) > 0 {
			t.Fatalf("purge: %+v %v", res, err)
		}
		for i, p := range ps {
			if v := p.Check(ctx, e); v != Purged {
				t.Fatalf("round %d: instance %d says %v right after the purge returned, want purged", round, i, v)
			}
		}
	}
}

func TestRedisPurgerCatchesUpFromTheLogAndAfterAReload(t *testing.T) {
	ctx := context.Background()
	prefix := testutil.UniquePrefix(t)
	a := newTestRedis(t, prefix)
	waitHealthy(t, a)
	e := &store.Entry{Key: "http://a.example/blog/x", URL: "a.example/blog/x", Host: "a.example", Status: 200, Seq: a.FillSeq(ctx)}
	if _, err := a.Purge(ctx, []Scope{{Kind: Prefix, Value: "/blog/"}}, true); err != nil {
		t.Fatal(err)
	}
	// An instance that starts later learns the marks from Redis.
	b := newTestRedis(t, prefix)
	waitHealthy(t, b)
	if v := b.Check(ctx, e); v != SoftPurged {
		t.Errorf("a later instance says %v, want soft-purged", v)
	}
}

func TestRedisPurgeLogAndMarksStayBounded(t *testing.T) {
	ctx := context.Background()
	c := testutil.RedisClient(t)
	p := newTestRedisOn(t, c, testutil.UniquePrefix(t), testTiming)
	logLength := p.t.logLength
	// The subscription and heartbeat stop first: they would catch up after
	// each of the purges below, and they read the clock replaced below.
	p.Close()
	for i := range logLength + 500 {
		if _, err := p.mark(ctx, []Scope{{Kind: URL, Value: fmt.Sprintf("a.example/%d", i)}}, false); err != nil {
			t.Fatal(err)
		}
	}
	n, err := c.XLen(ctx, p.keys.log).Result()
	// MAXLEN ~ trims whole stream nodes (stream-node-max-entries: 100).
	if err != nil || n > int64(logLength+100) {
		t.Errorf("purge log holds %d entries (%v), want about %d at most", n, err, logLength)
	}
	// Marks older than the horizon are dropped by the next purge.
	p.now = func() time.Time { return time.Now().Add(MarkHorizon + time.Hour) }
	if _, err := p.mark(ctx, []Scope{{Kind: Tag, Value: "new"}}, false); err != nil {
		t.Fatal(err)
	}
	// The state also holds the sequence, the "all" mark it started with
	// and when it was born; a purge drops up to 1000 old marks.
	if n, _ := c.HLen(ctx, p.keys.state).Result(); n-3 > int64(max(logLength+500-1000, 1)) {
		t.Errorf("marks hash holds %d after trimming, want the old ones dropped (1000 per purge)", n)
	}
}
