package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
)

// pipelineSizes is a go-redis hook that records the number of commands of
// every pipeline the client sends.
type pipelineSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (h *pipelineSizes) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *pipelineSizes) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *pipelineSizes) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.mu.Lock()
		h.sizes = append(h.sizes, len(cmds))
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (h *pipelineSizes) get() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.sizes)
}

// holdLanes takes every pipeline lane of b, as Gets in flight would, so
// that the Gets that follow queue.
func holdLanes(b *batcher) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inFlight = batchLanes
}

// queued is the number of Gets waiting for a lane.
func queued(b *batcher) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// lanesFree reports whether no lane is taken and nothing waits.
func lanesFree(b *batcher) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inFlight == 0 && len(b.queue) == 0
}

// getResult is what one Get returned.
type getResult struct {
	e   *Entry
	err error
}

// goGet runs r.Get(ctx, id) on its own goroutine and returns where its
// result arrives.
func goGet(r *Redis, ctx context.Context, id string) <-chan getResult {
	ch := make(chan getResult, 1)
	go func() {
		e, err := r.Get(ctx, id)
		ch <- getResult{e, err}
	}()
	return ch
}

// await is the result on ch, failing tb if none comes within 10 s (a
// hang guard, not a timing assertion).
func await(tb testing.TB, ch <-chan getResult, what string) getResult {
	tb.Helper()
	select {
	case res := <-ch:
		return res
	case <-time.After(10 * time.Second):
		tb.Fatalf("%s: no answer within 10 s", what)
		return getResult{}
	}
}

func TestGetsQueuedWhileTheLaneIsBusyGoOutInOnePipelineEachWithItsOwnAnswer(t *testing.T) {
	r := newTestRedis(t, config.RedisConfig{})
	ctx := context.Background()
	for i := range 5 {
		if err := r.Set(ctx, fmt.Sprintf("k%d", i), &Entry{Status: 200, Key: fmt.Sprintf("v%d", i)}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	hook := &pipelineSizes{}
	r.c.AddHook(hook)
	holdLanes(r.gets)
	const n = 10 // k5..k9 are not stored
	results := make([]<-chan getResult, n)
	for i := range n {
		results[i] = goGet(r, ctx, fmt.Sprintf("k%d", i))
	}
	testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%d Gets queued", n), func() bool { return queued(r.gets) == n })
	r.gets.release() // the pipeline in flight is answered
	for i, ch := range results {
		res := await(t, ch, fmt.Sprintf("Get k%d", i))
		switch {
		case i >= 5 && !errors.Is(res.err, ErrNotFound):
			t.Errorf("Get k%d: %v %v, want ErrNotFound", i, res.e, res.err)
		case i < 5 && (res.err != nil || res.e.Key != fmt.Sprintf("v%d", i)):
			t.Errorf("Get k%d: %v %v, want the entry keyed v%d", i, res.e, res.err, i)
		}
	}
	if got := hook.get(); !slices.Equal(got, []int{n}) {
		t.Errorf("pipelines sent: %v commands, want one of %d", got, n)
	}
	if !lanesFree(r.gets) {
		t.Error("a lane is still taken after every Get was answered")
	}
}

func TestAFullPipelineOfQueuedGetsGoesOutWithoutWaitingForTheBusyLane(t *testing.T) {
	r := newTestRedis(t, config.RedisConfig{})
	ctx := context.Background()
	if err := r.Set(ctx, "k", &Entry{Status: 200, Key: "v"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	hook := &pipelineSizes{}
	r.c.AddHook(hook)
	holdLanes(r.gets) // a round trip that does not end
	results := make([]<-chan getResult, batchMax)
	for i := range results {
		results[i] = goGet(r, ctx, "k")
	}
	for i, ch := range results {
		if res := await(t, ch, fmt.Sprintf("Get %d", i)); res.err != nil || res.e.Key != "v" {
			t.Errorf("Get %d: %v %v, want the entry", i, res.e, res.err)
		}
	}
	if got := hook.get(); !slices.Equal(got, []int{batchMax}) {
		t.Errorf("pipelines sent: %v commands, want one of %d", got, batchMax)
	}
	r.gets.release()
	testutil.Eventually(t, 10*time.Second, "the lanes freed", func() bool { return lanesFree(r.gets) })
}

// twoQueuedGets stores "k", takes every lane, and queues two Gets of it:
// first, whose context cancel ends, and second behind it.
func twoQueuedGets(t *testing.T) (r *Redis, cancel context.CancelFunc, first, second <-chan getResult) {
	t.Helper()
	r = newTestRedis(t, config.RedisConfig{})
	ctx := context.Background()
	if err := r.Set(ctx, "k", &Entry{Status: 200, Key: "v"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	holdLanes(r.gets)
	cctx, cancel := context.WithCancel(ctx)
	first = goGet(r, cctx, "k")
	testutil.Eventually(t, 10*time.Second, "the first Get queued", func() bool { return queued(r.gets) == 1 })
	second = goGet(r, ctx, "k")
	testutil.Eventually(t, 10*time.Second, "the second Get queued", func() bool { return queued(r.gets) == 2 })
	return r, cancel, first, second
}

func TestAQueuedGetWhoseContextEndsLeavesAtOnceAndTheGetsBehindItAreAnswered(t *testing.T) {
	r, cancel, first, second := twoQueuedGets(t)
	cancel()
	if res := await(t, first, "the cancelled Get"); !errors.Is(res.err, context.Canceled) {
		t.Errorf("cancelled Get: %v %v, want context.Canceled while the lane is still busy", res.e, res.err)
	}
	if got := queued(r.gets); got != 1 {
		t.Errorf("%d Gets queued after the first left, want 1", got)
	}
	r.gets.release()
	if res := await(t, second, "the Get behind it"); res.err != nil || res.e.Key != "v" {
		t.Errorf("Get behind the cancelled one: %v %v, want the entry", res.e, res.err)
	}
	testutil.Eventually(t, 10*time.Second, "the lane freed", func() bool { return lanesFree(r.gets) })
}

func TestAGetToldToLeadAsItsContextEndsHandsTheLaneToTheNext(t *testing.T) {
	r, cancel, first, second := twoQueuedGets(t)
	// The context ends and the lane comes to the first Get at once: it
	// must not leave with the lane.
	r.gets.mu.Lock()
	cancel()
	r.gets.releaseLocked()
	r.gets.mu.Unlock()
	if res := await(t, first, "the cancelled Get"); !errors.Is(res.err, context.Canceled) {
		t.Errorf("cancelled Get: %v %v, want context.Canceled", res.e, res.err)
	}
	if res := await(t, second, "the Get behind it"); res.err != nil || res.e.Key != "v" {
		t.Errorf("Get behind the cancelled one: %v %v, want the entry", res.e, res.err)
	}
	testutil.Eventually(t, 10*time.Second, "the lane freed", func() bool { return lanesFree(r.gets) })
}

func TestGetsWhoseContextsEndAtRandomMomentsNeverStallTheOthers(t *testing.T) {
	r := newTestRedis(t, config.RedisConfig{})
	ctx := context.Background()
	if err := r.Set(ctx, "k", &Entry{Status: 200, Key: "v"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := range 400 {
		cctx, cancel := context.WithCancel(ctx)
		wg.Go(func() {
			defer cancel()
			e, err := r.Get(cctx, "k")
			switch {
			case errors.Is(err, context.Canceled):
			case err != nil || e.Key != "v":
				errs <- fmt.Errorf("Get %d: %v %v, want the entry or context.Canceled", i, e, err)
			}
		})
		if i%2 == 0 { // half of them are cancelled, some at once, some later
			wg.Go(func() {
				for range rand.IntN(50) {
					runtime.Gosched()
				}
				cancel()
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !lanesFree(r.gets) {
		t.Fatal("a lane is still taken, or a Get still queued, after every Get returned")
	}
	if e, err := r.Get(ctx, "k"); err != nil || e.Key != "v" {
		t.Errorf("Get afterwards: %v %v, want the entry", e, err)
	}
}

func TestAGetAfterCloseFails(t *testing.T) {
	r, err := NewRedis(withDefaults(config.RedisConfig{Addrs: []string{testutil.Redis().Addr()}, KeyPrefix: "closed"}))
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if e, err := r.Get(context.Background(), "k"); err == nil {
		t.Errorf("Get after Close: %v, want an error", e)
	}
}
