package testutil

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/store/redistest"
)

// redisServer is the redis-server RunWithRedis started for the package
// under test; its tests keep apart by key prefix (UniquePrefix).
var redisServer *redistest.Server

// MainWithRedis is a TestMain: it runs the package's tests with one
// redis-server started for them all and exits with their result.
func MainWithRedis(m *testing.M) { os.Exit(RunWithRedis(m)) }

// RunWithRedis starts the package's redis-server, runs m and stops the
// server, returning m's exit code (1 when the server did not start). A
// TestMain that prepares more calls it last.
func RunWithRedis(m *testing.M) int {
	s, err := redistest.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	redisServer = s
	return m.Run()
}

// Redis is the package's redis-server (RunWithRedis).
func Redis() *redistest.Server {
	if redisServer == nil {
		panic("testutil: no redis-server: TestMain must call testutil.RunWithRedis")
	}
	return redisServer
}

// RedisClient is a client of the package's redis-server, closed when tb
// ends (NewRedisClient).
func RedisClient(tb testing.TB) *redis.Client { return NewRedisClient(tb, Redis().Addr()) }

// NewRedisClient is a client of the redis-server at addr, closed when tb
// ends. Like the store's client it dials once per attempt and retries a
// command once: go-redis's defaults (five dials 100ms apart, three
// retries) make every command against a stopped server take two seconds.
func NewRedisClient(tb testing.TB, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, DialerRetries: 1, DialerRetryTimeout: time.Millisecond, MaxRetries: 1})
	tb.Cleanup(func() { c.Close() })
	return c
}

// OwnRedis starts a redis-server for tb alone, with flags args after the
// common ones, for faults that would disturb the package's other tests
// (stops, memory limits, policies, passwords). It is stopped when tb ends.
func OwnRedis(tb testing.TB, args ...string) *redistest.Server {
	tb.Helper()
	s, err := redistest.NewWithArgs(args...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}
