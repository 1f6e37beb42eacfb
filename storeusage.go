package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachegate/cachegate/metrics"
	"github.com/cachegate/cachegate/store"
)

// redisUsageEvery is how often Redis is asked for its memory and eviction
// figures (INFO) for the redis layer's usage metrics: they move over
// seconds, and a request never waits for them.
const redisUsageEvery = 5 * time.Second

// memoryLayer reports the usage of the in-process store mem.
func memoryLayer(mem *store.Memory) func() (metrics.LayerUsage, bool) {
	return func() (metrics.LayerUsage, bool) {
		evicted, expired := mem.Evictions()
		return metrics.LayerUsage{
			Objects: int64(mem.Len()), Bytes: mem.Bytes(), Capacity: mem.MaxBytes(),
			Evicted: evicted, Expired: expired,
		}, true
	}
}

// redisUsage reads Redis's usage every interval in a goroutine it owns,
// and keeps the last answer for the metrics to read at a scrape.
type redisUsage struct {
	last   atomic.Pointer[store.RedisUsage]
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// watchRedisUsage starts reading rs's usage now and then every interval,
// until stop.
func watchRedisUsage(rs *store.Redis, every time.Duration, log *slog.Logger) *redisUsage {
	ctx, cancel := context.WithCancel(context.Background())
	u := &redisUsage{cancel: cancel}
	u.done.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			u.read(ctx, rs, every, log)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return u
}

// read asks Redis once. A failure forgets the last answer, so that a
// Redis that does not answer shows as no figures rather than old ones.
func (u *redisUsage) read(ctx context.Context, rs *store.Redis, bound time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	ru, err := rs.Usage(ctx)
	if err != nil {
		log.Debug("redis usage for the metrics", "err", err)
		u.last.Store(nil)
		return
	}
	u.last.Store(&ru)
}

// layer reports the last usage read, if the last read succeeded.
func (u *redisUsage) layer() (metrics.LayerUsage, bool) {
	ru := u.last.Load()
	if ru == nil {
		return metrics.LayerUsage{}, false
	}
	return metrics.LayerUsage{
		Objects: -1, Bytes: ru.UsedMemory, Capacity: ru.MaxMemory,
		Evicted: ru.EvictedKeys, Expired: ru.ExpiredKeys,
	}, true
}

// stop ends the goroutine and waits for it.
func (u *redisUsage) stop() {
	u.cancel()
	u.done.Wait()
}
