package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/store/redistest"
)

func TestMain(m *testing.M) { testutil.MainWithRedis(m) }

// newTestRedis returns a Redis store on addrs (default: the package's
// redis-server) whose keys have a prefix of the test's own, closed when the
// test ends.
func newTestRedis(t *testing.T, cfg config.RedisConfig) *Redis {
	t.Helper()
	if cfg.Addrs == nil {
		cfg.Addrs = []string{testutil.Redis().Addr()}
	}
	cfg.KeyPrefix = "test:" + testutil.UniquePrefix(t)
	r, err := NewRedis(withDefaults(cfg))
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// withDefaults is cfg with the timeouts it leaves zero at their defaults
// (config.Default), as config.Parse gives them to NewRedis.
func withDefaults(cfg config.RedisConfig) config.RedisConfig {
	def := config.Default().Store.Redis
	for _, d := range []struct{ v, def *config.Duration }{
		{&cfg.DialTimeout, &def.DialTimeout}, {&cfg.ReadTimeout, &def.ReadTimeout}, {&cfg.WriteTimeout, &def.WriteTimeout},
	} {
		if *d.v == 0 {
			*d.v = *d.def
		}
	}
	return cfg
}

func TestRedisRoundTrip(t *testing.T) {
	ctx := context.Background()
	r := newTestRedis(t, config.RedisConfig{})
	for name, e := range map[string]*Entry{
		"response": sampleEntry(16 << 10),
		"marker":   {Vary: []string{"Accept-Encoding"}, Seq: 3},
	} {
		if err := r.Set(ctx, name, e, time.Minute); err != nil {
			t.Fatalf("Set %s: %v", name, err)
		}
		got, err := r.Get(ctx, name)
		if err != nil {
			t.Fatalf("Get %s: %v", name, err)
		}
		if d := diffEntries(e, got); d != "" {
			t.Errorf("%s: Get returned a different entry: %s", name, d)
		}
	}
}

func TestRedisKeyFor(t *testing.T) {
	r, err := NewRedis(withDefaults(config.RedisConfig{Addrs: []string{testutil.Redis().Addr()}, KeyPrefix: "cg"}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, want := r.KeyFor("abc"), "cg:e:{abc}"; got != want {
		t.Errorf("KeyFor(abc) = %q, want %q", got, want)
	}
	if r.Prefix() != "cg" {
		t.Errorf("Prefix() = %q, want cg", r.Prefix())
	}
}

func TestRedisGetMissIsErrNotFound(t *testing.T) {
	r := newTestRedis(t, config.RedisConfig{})
	if _, err := r.Get(context.Background(), "absent"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of an absent key: err %v, want ErrNotFound", err)
	}
}

func TestRedisGetOfGarbageIsAnError(t *testing.T) {
	ctx := context.Background()
	r := newTestRedis(t, config.RedisConfig{})
	if err := r.Client().Set(ctx, r.KeyFor("garbage"), "not an entry", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(ctx, "garbage"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Get of an undecodable value: err %v, want a decode error", err)
	}
}

func TestRedisSetsTTL(t *testing.T) {
	ctx := context.Background()
	r := newTestRedis(t, config.RedisConfig{})
	const ttl = 10 * time.Second
	if err := r.Set(ctx, "k", sampleEntry(64), ttl); err != nil {
		t.Fatal(err)
	}
	pttl, err := r.Client().PTTL(ctx, r.KeyFor("k")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if pttl <= 0 || pttl > ttl {
		t.Errorf("PTTL = %v, want in (0, %v]", pttl, ttl)
	}
	if err := r.Set(ctx, "k", sampleEntry(64), 0); err != nil {
		t.Fatalf("Set with ttl 0: %v", err)
	}
	if n := r.Client().Exists(ctx, r.KeyFor("k")).Val(); n != 0 {
		t.Errorf("after Set with ttl 0 the key exists; want it not stored and the old entry gone")
	}
}

func TestRedisDeleteSeveralKeys(t *testing.T) {
	ctx := context.Background()
	r := newTestRedis(t, config.RedisConfig{})
	for _, id := range []string{"a", "b", "c"} {
		if err := r.Set(ctx, id, sampleEntry(64), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Delete(ctx, "a", "b", "absent"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for id, want := range map[string]bool{"a": false, "b": false, "c": true} {
		_, err := r.Get(ctx, id)
		if got := err == nil; got != want {
			t.Errorf("after Delete(a, b, absent): Get %s present = %v (err %v), want %v", id, got, err, want)
		}
	}
	if err := r.Delete(ctx, "c"); err != nil {
		t.Fatalf("Delete of one key: %v", err)
	}
	if _, err := r.Get(ctx, "c"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after Delete(c): err %v, want ErrNotFound", err)
	}
}

func TestRedisKeepsWorkingAfterRedisRestarts(t *testing.T) {
	ctx := context.Background()
	srv := testutil.OwnRedis(t)
	r := newTestRedis(t, config.RedisConfig{Addrs: []string{srv.Addr()}})
	e := sampleEntry(64)
	if err := r.Set(ctx, "k", e, time.Minute); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	if _, err := r.Get(ctx, "k"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Get while Redis is down: err %v, want a connection error", err)
	}
	if err := r.Set(ctx, "k", e, time.Minute); err == nil {
		t.Errorf("Set while Redis is down: no error, want one")
	}
	if err := r.Delete(ctx, "k", "j"); err == nil {
		t.Errorf("Delete while Redis is down: no error, want one")
	}
	if err := r.Ping(ctx); err == nil {
		t.Errorf("Ping while Redis is down: no error, want one")
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// The pool may wait out a dial backoff before it reconnects.
	testutil.Eventually(t, 5*time.Second, "a Set succeeds after Redis restarted", func() bool {
		return r.Set(ctx, "k", e, time.Minute) == nil
	})
	got, err := r.Get(ctx, "k")
	if err != nil {
		t.Fatalf("Get after Redis restarted: %v", err)
	}
	if d := diffEntries(e, got); d != "" {
		t.Errorf("after restart Get returned a different entry: %s", d)
	}
}

func TestRedisCluster(t *testing.T) {
	// Its own cluster takes seconds to form: waited for beside the other
	// slow setups.
	t.Parallel()
	c, err := redistest.StartCluster(3)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tt := range []struct {
		name string
		cfg  config.RedisConfig
	}{
		{"all seeds", config.RedisConfig{Addrs: c.Addrs()}},
		{"one seed, cluster true", config.RedisConfig{Addrs: c.Addrs()[:1], Cluster: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			r := newTestRedis(t, tt.cfg)
			cc, ok := r.Client().(*redis.ClusterClient)
			if !ok {
				t.Fatalf("client is a %T, want *redis.ClusterClient", r.Client())
			}
			ids := make([]string, 20)
			masters := make(map[string]bool)
			for i := range ids {
				ids[i] = fmt.Sprintf("%064x", i)
				e := sampleEntry(256)
				if err := r.Set(ctx, ids[i], e, time.Minute); err != nil {
					t.Fatalf("Set %s: %v", ids[i], err)
				}
				got, err := r.Get(ctx, ids[i])
				if err != nil {
					t.Fatalf("Get %s: %v", ids[i], err)
				}
				if d := diffEntries(e, got); d != "" {
					t.Fatalf("Get %s returned a different entry: %s", ids[i], d)
				}
				m, err := cc.MasterForKey(ctx, r.KeyFor(ids[i]))
				if err != nil {
					t.Fatal(err)
				}
				masters[m.Options().Addr] = true
			}
			if len(masters) < 2 {
				t.Fatalf("the %d keys all live on one master; the test needs keys on several", len(ids))
			}
			if u, err := r.Usage(ctx); err != nil || u.UsedMemory <= 0 {
				t.Errorf("Usage on a cluster = %+v, %v; want used_memory summed over the masters", u, err)
			}
			if err := r.Delete(ctx, ids...); err != nil {
				t.Fatalf("Delete of keys on %d masters: %v", len(masters), err)
			}
			for _, id := range ids {
				if _, err := r.Get(ctx, id); !errors.Is(err, ErrNotFound) {
					t.Errorf("Get %s after Delete: err %v, want ErrNotFound", id, err)
				}
			}
		})
	}
}

func TestNewRedisWithUnreachableAddressFailsFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r, err := NewRedis(withDefaults(config.RedisConfig{Addrs: []string{addr}}))
	if err != nil {
		t.Fatalf("NewRedis with nothing listening on %s: %v, want no error", addr, err)
	}
	defer r.Close()
	start := time.Now()
	_, err = r.Get(context.Background(), "k")
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Get with nothing listening: err %v, want a connection error", err)
	}
	// A refused dial fails at once; at worst two dials of 500ms and a
	// retry backoff, never go-redis's default timeouts of seconds.
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Get with nothing listening took %v, want it bounded by the short timeouts", elapsed)
	}
}

func TestNewRedisRejectsBadConfig(t *testing.T) {
	missingCA := filepath.Join(t.TempDir(), "absent.pem")
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The other options are checked by config (TestParseRefusesRedisOptionsTheStoreCannotUse).
	addrs := []string{"127.0.0.1:6379"}
	for name, cfg := range map[string]config.RedisConfig{
		"missing CA file":     {Addrs: addrs, TLS: config.RedisTLSConfig{Enabled: true, CAFile: missingCA}},
		"CA file without PEM": {Addrs: addrs, TLS: config.RedisTLSConfig{Enabled: true, CAFile: notPEM}},
	} {
		if r, err := NewRedis(cfg); err == nil {
			r.Close()
			t.Errorf("NewRedis with %s: no error, want one", name)
		}
	}
}

// BenchmarkRedisGet reads one 1 KiB or 16 KiB entry from the package's
// redis-server from 64 goroutines at once, as 64 client connections'
// hits do through the proxy. Besides ns/op it reports cpu-ns/op, this
// process's CPU time per Get (not redis-server's), the figure to compare on
// a shared machine.
func BenchmarkRedisGet(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) { benchmarkRedisGet(b, size) })
	}
}

func benchmarkRedisGet(b *testing.B, size int) {
	const clients = 64
	ctx := context.Background()
	r, err := NewRedis(withDefaults(config.RedisConfig{Addrs: []string{testutil.Redis().Addr()}, KeyPrefix: "bench"}))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	if err := r.Set(ctx, "k", sampleEntry(size), time.Minute); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	cpu0, ok := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Get(ctx, "k"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if cpu1, ok1 := processCPU(); ok && ok1 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

func TestConcurrentGetsArePipelinedAndEachGetsItsOwnAnswer(t *testing.T) {
	r := newTestRedis(t, config.RedisConfig{KeyPrefix: t.Name()})
	ctx := context.Background()
	for i := range 100 {
		if err := r.Set(ctx, fmt.Sprintf("k%d", i), &Entry{Status: 200, Key: fmt.Sprintf("v%d", i)}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for round := range 2 {
		for i := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e, err := r.Get(ctx, fmt.Sprintf("k%d", i))
				switch {
				case i >= 100 && !errors.Is(err, ErrNotFound):
					errs <- fmt.Errorf("round %d: k%d: %v %v, want ErrNotFound", round, i, e, err)
				case i < 100 && (err != nil || e.Key != fmt.Sprintf("v%d", i)):
					errs <- fmt.Errorf("round %d: k%d: %v %v, want v%d", round, i, e, err, i)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRedisStoreThroughSentinelFollowsAFailover(t *testing.T) {
	// Its own servers and failover take a second or two: waited for beside
	// the other slow setups.
	t.Parallel()
	s, err := redistest.StartSentinel()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := newTestRedis(t, config.RedisConfig{Addrs: []string{s.Addr()}, MasterName: redistest.MasterName})
	ctx := context.Background()
	if err := r.Set(ctx, "before", &Entry{Status: 200, Key: "before"}, time.Minute); err != nil {
		t.Fatalf("set through Sentinel: %v", err)
	}
	if e, err := r.Get(ctx, "before"); err != nil || e.Key != "before" {
		t.Fatalf("get through Sentinel: %v %v", e, err)
	}
	if err := s.Failover(); err != nil {
		t.Fatal(err)
	}
	// The old master turns into a replica; the client must follow the
	// Sentinel to the new one.
	testutil.Eventually(t, 15*time.Second, "writes reach the new master "+s.Replica.Addr(), func() bool {
		if err := r.Set(ctx, "after", &Entry{Status: 200, Key: "after"}, time.Minute); err != nil {
			return false
		}
		e, err := r.Get(ctx, "after")
		return err == nil && e.Key == "after"
	})
}
