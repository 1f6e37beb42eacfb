package collapse

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/store/redistest"
)

// pausable is a redis-server of the test's own (CLIENT PAUSE stops every
// client of it) and two groups on it as two instances: holder, on a
// client with go-redis's timeouts, and waiter, on a client like the
// store's (a short read timeout) that does not retry, so that a read
// during a pause fails.
func pausable(t *testing.T, opts Options) (s *redistest.Server, holder, waiter *Group) {
	s = testutil.OwnRedis(t)
	prefix := testutil.UniquePrefix(t)
	holder = New(testutil.NewRedisClient(t, s.Addr()), prefix, withDefaults(opts), testutil.DiscardLogger())
	t.Cleanup(holder.Close)
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), ReadTimeout: 100 * time.Millisecond, MaxRetries: -1, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	t.Cleanup(func() { c.Close() })
	waiter = New(c, prefix, withDefaults(opts), testutil.DiscardLogger())
	t.Cleanup(waiter.Close)
	testutil.Eventually(t, 10*time.Second, "both subscriptions are up", func() bool { return holder.sub.Healthy() && waiter.sub.Healthy() })
	return s, holder, waiter
}

// holdLease makes holder lead a fill of key that ends in Stored once
// release is closed; it returns when the fill runs (the lease is held),
// and done is closed when holder's Do has returned.
func holdLease(t *testing.T, holder *Group, key string) (release, done chan struct{}) {
	release, done, running := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		holder.Do(context.Background(), key, func(Settle) (Outcome, any) {
			close(running)
			<-release
			return Stored, nil
		}, nil)
	}()
	<-running
	return release, done
}

// pauseRedis pauses every client of s for d with CLIENT PAUSE, and
// returns when the pause is over: the command that follows it waits for
// its end.
func pauseRedis(t *testing.T, s *redistest.Server, d time.Duration) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), ReadTimeout: d + 10*time.Second})
	defer c.Close()
	ctx := context.Background()
	if err := c.Do(ctx, "CLIENT", "PAUSE", d.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after the pause: %v", err)
	}
}

// waitFor runs g.Do for key with a fill that should not run, as a
// request that finds another instance filling; the result comes on the
// channel once Do returns.
func waitFor(g *Group, key string) <-chan doResult {
	result := make(chan doResult, 1)
	go func() {
		var r doResult
		r.out, _, r.shared = g.Do(context.Background(), key, func(Settle) (Outcome, any) {
			r.filled = true
			return Stored, nil
		}, nil)
		result <- r
	}()
	return result
}

// doResult is what a Do returned, and whether its own fill ran.
type doResult struct {
	out            Outcome
	shared, filled bool
}

// A lease read that times out while another instance fills the key (a
// busy machine, a Redis that stalls for a moment) used to end the wait:
// the waiter, and every request that joined it, went to the origin while
// the holder's fill was still on its way. The read is tried again, and
// the waiter shares the holder's fill.
func TestAWaiterWhoseLeaseReadFailsForAMomentKeepsWaitingForTheHoldersFill(t *testing.T) {
	s, holder, waiter := pausable(t, Options{Wait: time.Minute})
	// Redis counts as down only after a minute of failed reads here: the
	// pauses below are far shorter.
	waiter.down.Pause = time.Minute
	release, holderDone := holdLease(t, holder, "k")
	result := waitFor(waiter, "k")
	awaitWaiters(t, 1, "k", waiter)
	// Pause Redis until one of the waiter's lease reads has failed (the
	// waiter reads every 50ms; a pause lasts 300ms).
	for attempt := 0; waiter.waitErrors.Load() == 0; attempt++ {
		if attempt == 100 {
			t.Fatal("no lease read of the waiter failed during 100 pauses of Redis")
		}
		pauseRedis(t, s, 300*time.Millisecond)
	}
	select {
	case r := <-result:
		t.Fatalf("after a failed lease read the waiter stopped waiting (%v, filled itself %v) while the holder's fill was on its way; want it to keep waiting", r.out, r.filled)
	default:
	}
	close(release)
	<-holderDone
	if r := <-result; r.filled || r.out != Stored || !r.shared {
		t.Errorf("waiter after %d failed lease reads: %v shared %v, filled itself %v; want the holder's Stored, shared", waiter.waitErrors.Load(), r.out, r.shared, r.filled)
	}
}

// A waiter does not wait the whole Wait bound on a Redis that answers
// none of its reads: past the failure pause it gives up, notes Redis
// down, so that the requests after it do not ask Redis for a moment, and
// fills in the process as when no lease could be taken: the requests of
// its process that joined it share that one fill instead of each going
// to the origin.
func TestAWaiterWhoseRedisStaysSilentForTheFailurePauseFillsInTheProcessForTheRequestsThatJoinedIt(t *testing.T) {
	s, holder, waiter := pausable(t, Options{Wait: time.Minute})
	// A failure pause of a nanosecond: the waiter gives up at the second
	// of its lease reads that fail in a row.
	waiter.down.Pause = time.Nanosecond
	release, holderDone := holdLease(t, holder, "k")
	defer func() { close(release); <-holderDone }()
	result := waitFor(waiter, "k")
	awaitWaiters(t, 1, "k", waiter)
	joined := waitFor(waiter, "k")
	awaitWaiters(t, 2, "k", waiter)
	var r doResult
	for attempt := 0; ; attempt++ {
		if attempt == 100 {
			t.Fatalf("the waiter kept waiting through 100 pauses of Redis (%d lease reads failed), want it to give up", waiter.waitErrors.Load())
		}
		pauseRedis(t, s, 300*time.Millisecond)
		select {
		case r = <-result:
		default:
			continue
		}
		break
	}
	if r.out != Stored || r.shared || !r.filled {
		t.Errorf("the waiter gave up with %v shared %v, filled itself %v; want its own fill (Stored, not shared)", r.out, r.shared, r.filled)
	}
	if j := <-joined; j.out != Stored || !j.shared || j.filled {
		t.Errorf("the request that joined the waiter got %v shared %v, filled itself %v; want the waiter's fill, shared", j.out, j.shared, j.filled)
	}
	waiter.down.Pause = time.Minute
	if !waiter.down.Recent(waiter.now()) {
		t.Error("the waiter gave up without noting Redis down: the next requests would each wait for a timeout")
	}
}
