package store

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Concurrent Gets are sent to Redis in pipelines, one write and one read
// for the lot instead of one of each per Get. There are no worker
// goroutines: a Get that finds the pipeline lane free sends itself at once
// on its own goroutine, and Gets that arrive while the lane is busy queue;
// when the lane's pipeline is answered, the first queued Get is woken to
// lead the next pipeline with everything queued behind it.
//
// Why not workers (the design before): with 4 worker goroutines taking
// Gets from a channel, 75-83% of the pipelines carried one Get (a worker
// was free whenever one arrived), and each Get paid two goroutine handoffs
// (the channel send that woke a worker, the close that woke the caller) on
// top of the round trip. Here a lone Get costs what a plain go-redis Get
// costs, and a queued one one wake-up.
const (
	// batchLanes is the number of pipelines in flight while fewer than
	// batchMax Gets wait. One lane makes the Gets that arrive during a
	// round trip wait for it and go out together in the next: pipelines
	// of 20-28 Gets against 6-13 with 2 or 4 lanes under 64 concurrent
	// Gets, and less CPU per Get on both sides (docs/BENCHMARKS.md,
	// "Redis-only hits").
	batchLanes = 1
	// batchLanesMax bounds the pipelines in flight when batchMax Gets
	// wait: a full pipeline goes out at once rather than wait for the
	// lane, so that a distant Redis (a 10 ms round trip) still takes
	// batchLanesMax*batchMax Gets a round trip, as the 4 workers before.
	batchLanesMax = 4
	// batchMax bounds the Gets of one pipeline; more wait for the next.
	batchMax = 64
)

// errBatcherClosed is a Get after Close.
var errBatcherClosed = errors.New("store: redis: closed")

// getCall is a queued Get: answered (b, err), or told to lead, when done
// is closed.
type getCall struct {
	ctx context.Context
	key string
	b   []byte
	err error
	// lead is set, under the batcher's mutex and before done is closed,
	// on the queued call that is to send the next pipeline.
	lead bool
	done chan struct{}
}

// batcher pipelines the Gets of one client.
type batcher struct {
	c       redis.UniversalClient
	timeout time.Duration

	mu       sync.Mutex
	inFlight int        // lanes taken
	queue    []*getCall // Gets waiting for a lane, oldest first
	closed   bool
}

// newBatcher returns a batcher for c whose pipelines are bounded by
// timeout (one round trip).
func newBatcher(c redis.UniversalClient, timeout time.Duration) *batcher {
	return &batcher{c: c, timeout: timeout}
}

// get returns the value of key, redis.Nil when there is none.
func (b *batcher) get(ctx context.Context, key string) ([]byte, error) {
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return nil, errBatcherClosed
	case b.inFlight < batchLanes:
		b.inFlight++
		b.mu.Unlock()
		defer b.release()
		return b.c.Get(ctx, key).Bytes()
	}
	call := &getCall{ctx: ctx, key: key, done: make(chan struct{})}
	b.queue = append(b.queue, call)
	if len(b.queue) >= batchMax && b.inFlight < batchLanesMax {
		b.inFlight++
		b.handOffLocked()
	}
	b.mu.Unlock()
	select {
	case <-call.done:
	case <-ctx.Done():
		if !b.leave(call) {
			return nil, ctx.Err()
		}
	}
	if call.lead {
		if ctx.Err() != nil {
			// Told to lead as its context ended: the next one leads.
			b.release()
			return nil, ctx.Err()
		}
		b.lead(call)
	}
	return call.b, call.err
}

// leave takes call, whose context ended, out of the queue, unless it was
// told to lead meanwhile, which it reports: then it holds the lane.
func (b *batcher) leave(call *getCall) (lead bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if call.lead {
		return true
	}
	if i := slices.Index(b.queue, call); i >= 0 {
		b.queue = slices.Delete(b.queue, i, i+1)
	}
	return false
}

// lead sends first, told to lead, in one pipeline with the calls queued
// behind it, answers them, and frees the lane.
func (b *batcher) lead(first *getCall) {
	b.mu.Lock()
	n := min(len(b.queue), batchMax-1)
	batch := make([]*getCall, 0, n+1)
	batch = append(batch, first)
	batch = append(batch, b.queue[:n]...)
	b.queue = slices.Delete(b.queue, 0, n)
	b.mu.Unlock()
	defer b.release()
	b.send(batch)
}

// release frees a lane, or hands it to the first queued call.
func (b *batcher) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.releaseLocked()
}

// releaseLocked is release with b.mu held.
func (b *batcher) releaseLocked() {
	if len(b.queue) == 0 {
		b.inFlight--
		return
	}
	b.handOffLocked()
}

// handOffLocked tells the first queued call, with b.mu held, to lead a
// pipeline in a lane already counted in inFlight.
func (b *batcher) handOffLocked() {
	next := b.queue[0]
	b.queue = slices.Delete(b.queue, 0, 1)
	next.lead = true
	close(next.done)
}

// send runs one pipeline for the batch and answers each call; batch[0] is
// the leader, which reads its answer once send returns.
func (b *batcher) send(batch []*getCall) {
	leader := batch[0]
	answer := func(call *getCall) {
		if call != leader {
			close(call.done)
		}
	}
	live := make([]*getCall, 0, len(batch))
	for _, call := range batch {
		if err := call.ctx.Err(); err != nil {
			call.err = err
			answer(call)
			continue
		}
		live = append(live, call)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	pipe := b.c.Pipeline()
	cmds := make([]*redis.StringCmd, len(live))
	for i, call := range live {
		cmds[i] = pipe.Get(ctx, call.key)
	}
	pipe.Exec(ctx) // each command carries its own error
	for i, call := range live {
		call.b, call.err = cmds[i].Bytes()
		answer(call)
	}
}

// close makes every later get fail; the pipelines in flight and the calls
// queued for them finish on their callers' goroutines.
func (b *batcher) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
}
