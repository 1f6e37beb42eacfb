package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// RedisUsage is what Redis reports of its memory and of the keys it
// dropped (INFO memory and INFO stats), summed over the masters of a
// cluster. The figures are the server's: every database and every client
// of that Redis, not only cachegate's keys.
type RedisUsage struct {
	// UsedMemory is used_memory and MaxMemory maxmemory (0: no limit),
	// in bytes.
	UsedMemory, MaxMemory int64
	// EvictedKeys is evicted_keys (keys dropped to stay under maxmemory)
	// and ExpiredKeys expired_keys, both since the server started or its
	// last CONFIG RESETSTAT.
	EvictedKeys, ExpiredKeys uint64
}

// Usage reads INFO memory and INFO stats, from each master of a cluster.
// It is a few round trips: call it on an interval, never per request.
func (r *Redis) Usage(ctx context.Context) (RedisUsage, error) {
	cc, ok := r.c.(*redis.ClusterClient)
	if !ok {
		return nodeUsage(ctx, r.c)
	}
	var (
		mu  sync.Mutex
		sum RedisUsage
	)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		u, err := nodeUsage(ctx, c)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		sum.UsedMemory += u.UsedMemory
		sum.MaxMemory += u.MaxMemory
		sum.EvictedKeys += u.EvictedKeys
		sum.ExpiredKeys += u.ExpiredKeys
		return nil
	})
	return sum, err
}

// nodeUsage reads the usage of one Redis server. The sections are asked
// one by one: INFO with several sections needs Redis 7.
func nodeUsage(ctx context.Context, c redis.Cmdable) (RedisUsage, error) {
	var u RedisUsage
	for _, section := range []string{"memory", "stats"} {
		info, err := c.Info(ctx, section).Result()
		if err != nil {
			return u, fmt.Errorf("store: redis info %s: %w", section, err)
		}
		parseUsage(info, &u)
	}
	return u, nil
}

// parseUsage sets the fields of u that the INFO reply info names (lines
// of field:value).
func parseUsage(info string, u *RedisUsage) {
	for line := range strings.Lines(info) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 {
			continue
		}
		switch name {
		case "used_memory":
			u.UsedMemory = n
		case "maxmemory":
			u.MaxMemory = n
		case "evicted_keys":
			u.EvictedKeys = uint64(n)
		case "expired_keys":
			u.ExpiredKeys = uint64(n)
		}
	}
}
