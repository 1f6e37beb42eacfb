package purge

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/store"
	"github.com/cachegate/cachegate/store/redistest"
)

var server *redistest.Server

func TestMain(m *testing.M) {
	var err error
	server, err = redistest.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	server.Close()
	os.Exit(code)
}

var runs atomic.Int64

// uniquePrefix keeps the runs of a test (-count) apart in one Redis.
func uniquePrefix(t *testing.T) string { return fmt.Sprintf("%s-%d", t.Name(), runs.Add(1)) }

func redisClient(tb testing.TB) redis.UniversalClient {
	c := redis.NewClient(&redis.Options{Addr: server.Addr()})
	tb.Cleanup(func() { c.Close() })
	return c
}

// waitHealthy waits until the purgers' subscriptions are up and each has
// reported what it applied: a purger trusts its mirror only after a
// report.
func waitHealthy(tb testing.TB, ps ...*Redis) {
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range ps {
		for !p.Trusted() {
			if time.Now().After(deadline) {
				tb.Fatal("purge subscription never came up and reported")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func TestRedisPurgeIsAppliedByEveryInstanceWhenItReturns(t *testing.T) {
	ctx := context.Background()
	prefix := uniquePrefix(t)
	var ps []*Redis
	for range 3 {
		p := NewRedis(redisClient(t), prefix, discardLog())
		defer p.Close()
		ps = append(ps, p)
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
	prefix := uniquePrefix(t)
	a := NewRedis(redisClient(t), prefix, discardLog())
	defer a.Close()
	waitHealthy(t, a)
	e := &store.Entry{Key: "http://a.example/blog/x", URL: "a.example/blog/x", Host: "a.example", Status: 200, Seq: a.FillSeq(ctx)}
	if _, err := a.Purge(ctx, []Scope{{Kind: Prefix, Value: "/blog/"}}, true); err != nil {
		t.Fatal(err)
	}
	// An instance that starts later learns the marks from Redis.
	b := NewRedis(redisClient(t), prefix, discardLog())
	defer b.Close()
	waitHealthy(t, b)
	if v := b.Check(ctx, e); v != SoftPurged {
		t.Errorf("a later instance says %v, want soft-purged", v)
	}
}

func TestRedisPurgeLogAndMarksStayBounded(t *testing.T) {
	ctx := context.Background()
	c := redisClient(t)
	p := NewRedis(c, uniquePrefix(t), discardLog())
	// The subscription and heartbeat stop first: they would catch up after
	// each of the purges below, and they read the clock replaced below.
	p.Close()
	for i := range logLength + 500 {
		if _, err := p.mark(ctx, []Scope{{Kind: URL, Value: fmt.Sprintf("a.example/%d", i)}}, false); err != nil {
			t.Fatal(err)
		}
	}
	n, err := c.XLen(ctx, p.keys.log).Result()
	if err != nil || n > logLength+logLength/10 {
		t.Errorf("purge log holds %d entries (%v), want about %d at most", n, err, logLength)
	}
	// Marks older than the horizon are dropped by the next purge.
	p.now = func() time.Time { return time.Now().Add(MarkHorizon + time.Hour) }
	if _, err := p.mark(ctx, []Scope{{Kind: Tag, Value: "new"}}, false); err != nil {
		t.Fatal(err)
	}
	// The state also holds the sequence, the "all" mark it started with
	// and when it was born.
	if n, _ := c.HLen(ctx, p.keys.state).Result(); n-3 > logLength+500-999 {
		t.Errorf("marks hash holds %d after trimming, want the old ones dropped (1000 per purge)", n)
	}
}
