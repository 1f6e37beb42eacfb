package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
)

func TestRedisUsageReportsMemoryMaxmemoryEvictionsAndExpiries(t *testing.T) {
	ctx := context.Background()
	srv := testutil.OwnRedis(t, "--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru")
	r := newTestRedis(t, config.RedisConfig{Addrs: []string{srv.Addr()}})
	c := r.Client()
	value := strings.Repeat("v", 64<<10)
	for i := range 64 { // 4 MiB into 2: the LRU evicts
		if err := c.Set(ctx, "fill:"+string(rune('a'+i%26))+string(rune('a'+i/26)), value, 0).Err(); err != nil {
			t.Fatalf("fill: %v", err)
		}
	}
	// Set after the fill, so that the LRU does not evict it first.
	if err := c.Set(ctx, "short", "x", time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	var u RedisUsage
	testutil.Until(t, 5*time.Second, "Redis counts the expired key", func() error {
		c.Get(ctx, "short") // an expired key is dropped when read
		var err error
		u, err = r.Usage(ctx)
		if err == nil && u.ExpiredKeys == 0 {
			err = errors.New("expired_keys is still 0")
		}
		return err
	})
	if u.MaxMemory != 2<<20 || u.UsedMemory <= 0 || u.EvictedKeys == 0 {
		t.Errorf("Usage = %+v; want maxmemory 2 MiB, used_memory > 0 and evicted keys after filling 4 MiB", u)
	}
}

func TestParseUsageReadsTheFieldsAndSkipsTheRest(t *testing.T) {
	var u RedisUsage
	parseUsage("# Memory\r\nused_memory:1024\r\nused_memory_human:1.00K\r\nmaxmemory:0\r\n", &u)
	parseUsage("# Stats\r\nevicted_keys:7\r\nexpired_keys:-1\r\nbogus\r\n", &u)
	if u != (RedisUsage{UsedMemory: 1024, EvictedKeys: 7}) {
		t.Errorf("parseUsage = %+v, want used_memory 1024, evicted 7, the rest 0", u)
	}
}
