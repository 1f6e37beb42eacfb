package redisx

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/store/redistest"
)

// server is the package's one redis-server; tests keep apart by key.
var server *redistest.Server

func TestMain(m *testing.M) {
	s, err := redistest.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "redisx:", err)
		os.Exit(1)
	}
	server = s
	code := m.Run()
	s.Close()
	os.Exit(code)
}

var runs atomic.Int64

// uniqueKey keeps the runs of a test (-count) apart in one Redis.
func uniqueKey(t *testing.T) string { return fmt.Sprintf("%s-%d", t.Name(), runs.Add(1)) }

func client(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// eventually polls cond until it holds, and fails the test when it still
// does not after ten seconds (a bound for a broken build, not a timing).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still not true after 10s: %s", what)
		}
	}
}
