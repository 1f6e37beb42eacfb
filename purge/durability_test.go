package purge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/store"
	"github.com/cachegate/cachegate/store/redistest"
)

// newOwnRedisPurger starts a redis-server of the test's own, for faults
// that would disturb the package's other tests, and returns it with a
// client and a purger with testTiming on it, under prefix.
func newOwnRedisPurger(t *testing.T, prefix string) (*redistest.Server, *redis.Client, *Redis) {
	t.Helper()
	srv := testutil.OwnRedis(t)
	c := testutil.NewRedisClient(t, srv.Addr())
	return srv, c, newTestRedisOn(t, c, prefix, testTiming)
}

// purgedEntry fills an entry with tag t at p's sequence, purges the tag
// through p and returns the entry.
func purgedEntry(t *testing.T, p *Redis, tag string) *store.Entry {
	t.Helper()
	ctx := context.Background()
	e := &store.Entry{Key: "http://a.example/" + tag, Host: "a.example", URL: "a.example/" + tag, Tags: []string{tag}, Status: 200, Seq: p.FillSeq(ctx)}
	res, err := p.Purge(ctx, []Scope{{Kind: Tag, Value: tag}}, false)
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	if v := p.Check(ctx, e); v != Purged {
		t.Fatalf("right after purge %+v: %v, want purged", res, v)
	}
	return e
}

func TestAPurgeSurvivesRedisLosingThePurgeState(t *testing.T) {
	ctx := context.Background()
	// Each loss as Redis can inflict it on the keys of one prefix.
	losses := map[string]func(c *redis.Client, k redisKeys, before string){
		"everything (FLUSHALL, restart without persistence)": func(c *redis.Client, k redisKeys, _ string) {
			c.Del(ctx, k.state, k.log, k.times, k.applied)
		},
		"the state only (evicted)": func(c *redis.Client, k redisKeys, _ string) {
			c.Del(ctx, k.state)
		},
		"the state rolled back (failover to a lagging replica)": func(c *redis.Client, k redisKeys, before string) {
			c.Del(ctx, k.log)
			if err := c.Do(ctx, "RESTORE", k.state, 0, before, "REPLACE").Err(); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, lose := range losses {
		t.Run(name, func(t *testing.T) {
			c := testutil.RedisClient(t)
			prefix := testutil.UniquePrefix(t)
			a := newTestRedisOn(t, c, prefix, testTiming)
			waitHealthy(t, a)
			a.FillSeq(ctx)
			before, err := c.Dump(ctx, a.keys.state).Result()
			if err != nil {
				t.Fatal(err)
			}
			e := purgedEntry(t, a, "t1")
			acked := a.applied()
			lose(c, a.keys, before)

			// Fills after the loss sort after every purge before it. (A
			// rolled back state is noticed by the instances that applied
			// what it lacks: at their next fill, purge or heartbeat.)
			if seq := a.FillSeq(ctx); seq <= acked {
				t.Errorf("fill after the loss stamped %d, not above the acknowledged purge %d", seq, acked)
			}
			// A later instance, and the one that purged, still honour it.
			b := newTestRedis(t, prefix)
			if v := b.Check(ctx, e); v != Purged {
				t.Errorf("an instance started after the loss says %v, want purged", v)
			}
			if v := a.Check(ctx, e); v != Purged {
				t.Errorf("the purging instance says %v after the loss, want purged", v)
			}
			if seq := b.FillSeq(ctx); seq <= acked {
				t.Errorf("a later instance's fill stamped %d, not above the acknowledged purge %d", seq, acked)
			}
			// A purge after the loss is honoured by both.
			fresh := &store.Entry{Key: "http://a.example/t2", Host: "a.example", URL: "a.example/t2", Tags: []string{"t2"}, Status: 200, Seq: b.FillSeq(ctx)}
			if v := a.Check(ctx, fresh); v != Valid {
				t.Fatalf("an entry filled after the loss is %v before any purge, want valid", v)
			}
			waitHealthy(t, a, b)
			res, err := b.Purge(ctx, []Scope{{Kind: Tag, Value: "t2"}}, false)
			if err != nil || res.Seq <= acked {
				t.Fatalf("purge after the loss: %+v %v, want a sequence above %d", res, err, acked)
			}
			for i, p := range []*Redis{a, b} {
				if v := p.Check(ctx, fresh); v != Purged {
					t.Errorf("instance %d says %v after the purge that followed the loss, want purged", i, v)
				}
			}
		})
	}
}

func TestAnInstanceDoesNotAnswerFromItsMirrorBeforeTheMarksAreLoaded(t *testing.T) {
	ctx := context.Background()
	prefix := testutil.UniquePrefix(t)
	a := newTestRedis(t, prefix)
	waitHealthy(t, a)
	e := purgedEntry(t, a, "start")
	for round := range 5 {
		b := newRedis(testutil.RedisClient(t), prefix, testutil.DiscardLogger(), monotonic(), testTiming)
		if b.Trusted() {
			t.Errorf("round %d: a new instance trusts its mirror before loading the marks", round)
		}
		if v := b.Check(ctx, e); v != Purged {
			t.Errorf("round %d: a new instance's first check says %v, want purged", round, v)
		}
		testutil.Eventually(t, 10*time.Second, "the new instance trusts its loaded mirror", b.Trusted)
		b.Close()
	}
}

// stoppedClock is a monotonic clock a test moves by hand.
type stoppedClock struct{ d atomic.Int64 }

func (c *stoppedClock) since() time.Duration    { return time.Duration(c.d.Load()) }
func (c *stoppedClock) advance(d time.Duration) { c.d.Add(int64(d)) }

func TestAPausedInstanceIsNamedLaggingAndReadsTheSequenceBeforeServingAgain(t *testing.T) {
	ctx := context.Background()
	prefix := testutil.UniquePrefix(t)
	clock := &stoppedClock{}
	a := newRedis(testutil.RedisClient(t), prefix, testutil.DiscardLogger(), clock.since, testTiming)
	defer a.Close()
	// b's purge waits for a, which does not apply it, the whole bound.
	short := testTiming
	short.waitBound = 200 * time.Millisecond
	b := newTestRedisOn(t, testutil.RedisClient(t), prefix, short)
	waitHealthy(t, a, b)
	e := &store.Entry{Key: "http://a.example/p", Host: "a.example", URL: "a.example/p", Tags: []string{"p"}, Status: 200, Seq: a.FillSeq(ctx)}

	// a stops applying purges, as a stopped process does.
	a.catchMu.Lock()
	res, err := b.Purge(ctx, []Scope{{Kind: Tag, Value: "p"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(res.Lagging, " "), a.ID()) {
		t.Errorf("purge result %+v does not name the instance that did not apply it (%s)", res, a.ID())
	}
	// It resumes after longer than its lease.
	clock.advance(a.t.lease + time.Millisecond)
	if a.Trusted() {
		t.Error("a paused instance still trusts its mirror (and L1) after its lease")
	}
	answer := make(chan Validity, 1)
	go func() { answer <- a.Check(ctx, e) }()
	select {
	case v := <-answer:
		t.Fatalf("a paused instance answered %v from its mirror without reading the sequence", v)
	case <-time.After(50 * time.Millisecond):
	}
	a.catchMu.Unlock()
	if v := <-answer; v != Purged {
		t.Errorf("after the pause: %v, want purged", v)
	}
}

func TestARefusedInvalidationIsAppliedHereAndWrittenWhenRedisTakesIt(t *testing.T) {
	ctx := context.Background()
	srv, c, a := newOwnRedisPurger(t, "refused")
	b := newTestRedisOn(t, testutil.NewRedisClient(t, srv.Addr()), "refused", testTiming)
	waitHealthy(t, a, b)
	e := &store.Entry{Key: "http://a.example/post", Host: "a.example", URL: "a.example/post", Status: 200, Seq: a.FillSeq(ctx)}
	other := &store.Entry{Key: "http://a.example/other", Host: "a.example", URL: "a.example/other", Status: 200, Seq: a.FillSeq(ctx)}

	c.ConfigSet(ctx, "maxmemory-policy", "noeviction")
	c.ConfigSet(ctx, "maxmemory", "1")
	err := a.Mark(ctx, []Scope{{Kind: URL, Value: e.URL}}, time.Now().Add(MarkHorizon))
	if err == nil || !strings.Contains(err.Error(), "OOM") {
		t.Fatalf("Mark at maxmemory under noeviction: %v, want Redis's OOM refusal", err)
	}
	if v := a.Check(ctx, e); v != Purged {
		t.Errorf("the refused invalidation is not applied here: %v", v)
	}
	if v := a.Check(ctx, other); v != Valid {
		t.Errorf("an entry the invalidation does not name is %v", v)
	}
	if n, refused, last := a.Pending(); n != 1 || last == nil || refused != 1 {
		t.Errorf("Pending() = %d, %v, %d; want 1 waiting, the error, 1 refused", n, last, refused)
	}
	if d := a.Degraded(); !strings.Contains(d, "pending") {
		t.Errorf("Degraded() = %q, want it to say an invalidation is pending", d)
	}

	c.ConfigSet(ctx, "maxmemory", "0")
	testutil.Eventually(t, 10*time.Second, "the invalidation is written once Redis takes it", func() bool { n, _, _ := a.Pending(); return n == 0 })
	testutil.Eventually(t, 10*time.Second, "the other instance honours the invalidation", func() bool { return b.Check(ctx, e) == Purged })
	if v := a.Check(ctx, e); v != Purged {
		t.Errorf("after the write: %v, want purged", v)
	}
	if d := a.Degraded(); strings.Contains(d, "pending") {
		t.Errorf("Degraded() = %q after the write", d)
	}
}

func TestTooManyRefusedInvalidationsBecomeOnePurgeOfEverything(t *testing.T) {
	ctx := context.Background()
	srv, c, a := newOwnRedisPurger(t, "coalesce")
	waitHealthy(t, a)
	e := &store.Entry{Key: "http://a.example/untouched", Host: "a.example", URL: "a.example/untouched", Status: 200, Seq: a.FillSeq(ctx)}
	srv.Stop()
	scopes := make([]Scope, 0, maxPendingScopes/2+1)
	for i := range cap(scopes) {
		scopes = append(scopes, Scope{Kind: URL, Value: fmt.Sprintf("a.example/%d", i)})
	}
	for range 3 {
		if err := a.Mark(ctx, scopes, time.Now().Add(MarkHorizon)); err == nil {
			t.Fatal("Mark with Redis down succeeded")
		}
	}
	if n, refused, _ := a.Pending(); n != 1 || refused != 3 {
		t.Errorf("Pending() = %d waiting, %d refused; want the queue coalesced into 1, 3 refused", n, refused)
	}
	if v := a.Check(ctx, e); v != Purged {
		t.Errorf("after coalescing into a purge of everything an untouched entry is %v, want purged", v)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the coalesced purge is written", func() bool { n, _, _ := a.Pending(); return n == 0 })
	v, err := c.HGet(ctx, a.keys.state, hardField+"a").Uint64()
	if err != nil || v <= e.Seq {
		t.Errorf("the all mark in Redis is %d (%v), want above %d", v, err, e.Seq)
	}
}

func TestAnEvictingMaxmemoryPolicyIsReported(t *testing.T) {
	c := testutil.NewRedisClient(t, testutil.OwnRedis(t).Addr())
	ctx := context.Background()
	if err := c.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	a := newTestRedisOn(t, c, "policy", testTiming)
	testutil.Eventually(t, 10*time.Second, "Degraded names the policy", func() bool { return strings.Contains(a.Degraded(), "allkeys-lru") })
	c.ConfigSet(ctx, "maxmemory-policy", "volatile-lru")
	// On the next reconnect the policy is read again.
	c.ClientKillByFilter(ctx, "TYPE", "pubsub")
	testutil.Eventually(t, 10*time.Second, "Degraded no longer names an evicting policy", func() bool {
		return !strings.Contains(a.Degraded(), "maxmemory-policy")
	})
}

func TestTheRefusedInvalidationsQueueIsBoundedInBytesToo(t *testing.T) {
	var q pending
	big := &pendingPurge{scopes: []Scope{{Kind: URL, Value: strings.Repeat("a", maxPendingBytes)}}, local: 7}
	first, coalesced := q.add(big, errors.New("refused"))
	if !first || !coalesced {
		t.Fatalf("add of a scope of %d bytes: first %v, coalesced %v; want both", maxPendingBytes, first, coalesced)
	}
	if p := q.head(); p == nil || !p.coversAll(7) || q.bytes > 1 {
		t.Errorf("queue after coalescing: %+v (%d bytes), want one purge of everything", p, q.bytes)
	}
	if first, _ := q.add(&pendingPurge{scopes: []Scope{{Kind: Tag, Value: "t"}}, local: 7}, nil); first {
		t.Error("a second refusal reported as the first")
	}
	if n, _ := q.state(); n != 1 {
		t.Errorf("a purge the queued purge of everything covers was queued again: %d queued", n)
	}
}
