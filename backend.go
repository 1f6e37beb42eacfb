package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/cachegate/cachegate/collapse"
	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/metrics"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/store"
)

// backend is the storage side of an instance: the store, the purge marks
// and the collapsing group, sharing one Redis when the store is in Redis
// (backends redis and tiered), in process otherwise.
type backend struct {
	// store is what the proxy reads and writes.
	store store.Store
	// redis is the Redis store, breaker the circuit breaker before it;
	// both nil for the memory backend.
	redis   *store.Redis
	breaker *store.Breaker
	// memory is the in-process store (or the tiered store's L1), else nil.
	memory *store.Memory
	// marks is the purger shared through Redis, nil without Redis; purger
	// is marks or an in-process purge.Local.
	marks    *purge.Redis
	purger   purge.Purger
	collapse *collapse.Group
	// usage reads Redis's usage for the metrics; nil without Redis.
	usage *redisUsage
}

// openBackend opens the configured backend in the order its parts need
// each other: Redis and its breaker, then the purge marks, then the store
// (the tiered store's L1 is trusted while the marks are current), then
// the collapsing group.
func openBackend(cfg *config.Config, log *slog.Logger, m *metrics.Metrics) (*backend, error) {
	b := &backend{}
	collapseOpts := collapseOptions(cfg.Cache.Collapse)
	if cfg.Store.Backend == "memory" {
		b.memory = store.NewMemory(int64(cfg.Store.Memory.MaxBytes))
		local := purge.NewLocal()
		b.store, b.purger = b.memory, local
		b.collapse = collapse.New(nil, "", collapseOpts, log)
		m.StoreLayerFunc(metrics.LayerMemory, memoryLayer(b.memory))
		m.PurgeMarksFunc(local.ActiveMarks)
		return b, nil
	}
	rs, err := store.NewRedis(cfg.Store.Redis)
	if err != nil {
		return nil, err
	}
	if err := checkRedis(rs, cfg.Store.Redis, log); err != nil {
		rs.Close()
		return nil, err
	}
	b.redis = rs
	m.BreakerState(store.StateClosed)
	b.breaker = store.NewBreaker(rs, store.BreakerOptions{OnStateChange: m.BreakerState}, log)
	b.marks = purge.NewRedis(rs.Client(), rs.Prefix(), log)
	b.purger = b.marks
	m.InvalidationsFunc(func() (int, uint64) { n, refused, _ := b.marks.Pending(); return n, refused })
	m.PurgeMarksFunc(b.marks.ActiveMarks)
	b.usage = watchRedisUsage(rs, redisUsageEvery, log)
	m.StoreLayerFunc(metrics.LayerRedis, b.usage.layer)
	b.store = b.breaker
	if cfg.Store.Backend == "tiered" {
		b.memory = store.NewMemory(int64(cfg.Store.Memory.MaxBytes))
		b.store = store.NewTiered(b.memory, b.breaker, store.TieredOptions{
			Trusted:         b.marks.Trusted,
			Current:         func(e *store.Entry) bool { return b.marks.Check(context.Background(), e) == purge.Valid },
			Unreachable:     b.breaker.Unreachable,
			L1WhenRedisDown: cfg.Store.Tiered.L1WhenRedisDown.D(),
		})
		m.StoreLayerFunc(metrics.LayerMemory, memoryLayer(b.memory))
	}
	b.collapse = collapse.New(rs.Client(), rs.Prefix(), collapseOpts, log)
	return b, nil
}

// Close stops the collapsing group, the purger and the reading of Redis's
// usage, then closes the store.
func (b *backend) Close() {
	if b.usage != nil {
		b.usage.stop()
	}
	b.collapse.Close()
	b.purger.Close()
	b.store.Close()
}

// redisStartCheck bounds the start's check of Redis: a few dial and read
// timeouts.
const redisStartCheck = 3 * time.Second

// checkRedis stops the start when Redis refuses the configuration (a wrong
// password, an ACL that denies, no such database): waiting would not help.
// A Redis that does not answer is only logged: the instance serves from the
// origin and uses Redis when it comes.
func checkRedis(rs *store.Redis, rc config.RedisConfig, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), redisStartCheck)
	defer cancel()
	err := rs.Check(ctx, rc)
	var ce *store.RedisConfigError
	if errors.As(err, &ce) {
		return err
	}
	if err != nil {
		log.Warn("Redis does not answer at start; requests go to the origin until it does", "err", err)
	}
	return nil
}

// collapseOptions are the collapsing group's options of cache.collapse.
func collapseOptions(cc config.CollapseConfig) collapse.Options {
	return collapse.Options{Wait: cc.Wait.D(), HitForPass: cc.HitForPass.D()}
}
