package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Concurrent Gets are sent to Redis in pipelines: each batcher worker
// takes every Get waiting when it becomes free and sends them together,
// one write and one read for the lot instead of one of each per Get (which
// is where a Redis hit spent most of its time: the profile showed 40% in
// go-redis's write system call). A lone Get goes out at once, as before.
const (
	batchWorkers = 4
	batchMax     = 64
)

// getCall is one Get waiting for a batch.
type getCall struct {
	ctx  context.Context
	key  string
	b    []byte
	err  error
	done chan struct{}
}

// batcher pipelines the Gets of one client.
type batcher struct {
	c       redis.UniversalClient
	timeout time.Duration
	calls   chan *getCall
	stop    chan struct{}
	wg      sync.WaitGroup
}

func newBatcher(c redis.UniversalClient, timeout time.Duration) *batcher {
	b := &batcher{c: c, timeout: timeout, calls: make(chan *getCall, 1024), stop: make(chan struct{})}
	b.wg.Add(batchWorkers)
	for range batchWorkers {
		go b.work()
	}
	return b
}

// get returns the value of key, redis.Nil when there is none.
func (b *batcher) get(ctx context.Context, key string) ([]byte, error) {
	call := &getCall{ctx: ctx, key: key, done: make(chan struct{})}
	select {
	case b.calls <- call:
	case <-b.stop:
		return nil, errors.New("store: redis: closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-call.done:
		return call.b, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (b *batcher) work() {
	defer b.wg.Done()
	batch := make([]*getCall, 0, batchMax)
	for {
		select {
		case <-b.stop:
			return
		case call := <-b.calls:
			batch = append(batch[:0], call)
		}
	more:
		for len(batch) < batchMax {
			select {
			case call := <-b.calls:
				batch = append(batch, call)
			default:
				break more
			}
		}
		b.send(batch)
	}
}

// send runs one pipeline for the batch and hands each call its answer.
func (b *batcher) send(batch []*getCall) {
	live := batch[:0]
	for _, call := range batch {
		if call.ctx.Err() != nil {
			call.err = call.ctx.Err()
			close(call.done)
			continue
		}
		live = append(live, call)
	}
	if len(live) == 0 {
		return
	}
	if len(live) == 1 {
		call := live[0]
		call.b, call.err = b.c.Get(call.ctx, call.key).Bytes()
		close(call.done)
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
		close(call.done)
	}
}

func (b *batcher) close() {
	close(b.stop)
	b.wg.Wait()
}
