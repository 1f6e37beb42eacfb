package certs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/internal/redisx"
)

// Lock timing of RedisStorage.
const (
	// defaultLockTTL is how long a lock outlives a holder that stopped
	// refreshing it (a crashed instance); a held lock's expiry is pushed
	// back every third of it.
	defaultLockTTL = 10 * time.Second
	// lockPoll is how often Lock retries a lock held by someone else.
	lockPoll = 100 * time.Millisecond
	// redisTimeout bounds one Redis command issued outside a caller's
	// context (lock refresh).
	redisTimeout = 2 * time.Second
)

// Fields of the hash that holds one stored value.
const (
	fieldValue    = "value"
	fieldModified = "modified" // Unix milliseconds
)

// RedisStorage is a certmagic.Storage on Redis. A value is a hash
// (value, modified) at {prefix}:certs:<key>; the set {prefix}:certs:index
// lists every stored key, so that List, Exists and Delete of a "directory"
// need neither KEYS nor SCAN; locks are {prefix}:certs:lock:<name>. The
// prefix is a hash tag, so all of them share one Cluster slot and one
// MULTI can update a value and the index. Reads go to the master (go-redis
// reads replicas only when told to), so Load returns what the last Store
// wrote.
type RedisStorage struct {
	c    redis.UniversalClient
	base string // "{prefix}:certs:"
	log  *slog.Logger
	// lockTTL is defaultLockTTL; tests shorten it.
	lockTTL time.Duration

	mu   sync.Mutex
	held map[string]*heldLock // by lock name
}

// heldLock is a lock this process holds and keeps alive.
type heldLock struct {
	lease *redisx.Lease
	stop  chan struct{} // closed by Unlock
	done  chan struct{} // closed when the refresh goroutine has returned
}

// NewRedisStorage returns a RedisStorage keeping its keys under prefix.
func NewRedisStorage(c redis.UniversalClient, prefix string, log *slog.Logger) *RedisStorage {
	return &RedisStorage{c: c, base: "{" + prefix + "}:certs:", log: log, lockTTL: defaultLockTTL, held: make(map[string]*heldLock)}
}

var _ certmagic.Storage = (*RedisStorage)(nil)

func (s *RedisStorage) key(k string) string     { return s.base + k }
func (s *RedisStorage) index() string           { return s.base + "index" }
func (s *RedisStorage) lockKey(n string) string { return s.base + "lock:" + n }

// Store writes value at key and adds key to the index, in one transaction.
func (s *RedisStorage) Store(ctx context.Context, key string, value []byte) error {
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.key(key), fieldValue, value, fieldModified, time.Now().UnixMilli())
		p.SAdd(ctx, s.index(), key)
		return nil
	})
	if err != nil {
		return fmt.Errorf("certs: redis: store %s: %w", key, err)
	}
	return nil
}

// Load returns the value at key, or an error wrapping fs.ErrNotExist.
func (s *RedisStorage) Load(ctx context.Context, key string) ([]byte, error) {
	v, err := s.c.HGet(ctx, s.key(key), fieldValue).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("certs: redis: load %s: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("certs: redis: load %s: %w", key, err)
	}
	return v, nil
}

// Delete removes key and, when key is a directory, every key under it.
// Deleting a key that does not exist is not an error.
func (s *RedisStorage) Delete(ctx context.Context, key string) error {
	all, err := s.c.SMembers(ctx, s.index()).Result()
	if err != nil {
		return fmt.Errorf("certs: redis: delete %s: %w", key, err)
	}
	gone := []string{key}
	for _, k := range all {
		if strings.HasPrefix(k, key+"/") {
			gone = append(gone, k)
		}
	}
	_, err = s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		keys := make([]string, len(gone))
		members := make([]any, len(gone))
		for i, k := range gone {
			keys[i], members[i] = s.key(k), k
		}
		p.Del(ctx, keys...)
		p.SRem(ctx, s.index(), members...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("certs: redis: delete %s: %w", key, err)
	}
	return nil
}

// Exists reports whether key is a stored value or a directory of some.
func (s *RedisStorage) Exists(ctx context.Context, key string) bool {
	n, err := s.c.Exists(ctx, s.key(key)).Result()
	if err == nil && n > 0 {
		return true
	}
	under, err := s.under(ctx, key)
	return err == nil && len(under) > 0
}

// under returns the stored keys below the directory dir ("" is the root).
func (s *RedisStorage) under(ctx context.Context, dir string) ([]string, error) {
	all, err := s.c.SMembers(ctx, s.index()).Result()
	if err != nil {
		return nil, err
	}
	prefix := ""
	if dir != "" {
		prefix = strings.TrimSuffix(dir, "/") + "/"
	}
	var keys []string
	for _, k := range all {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// List returns the keys in dir: its direct children (values and
// directories), or, when recursive, every key below it, directories
// included, as certmagic's FileStorage does. A directory with nothing in it
// does not exist: the error then wraps fs.ErrNotExist.
func (s *RedisStorage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	keys, err := s.under(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("certs: redis: list %s: %w", dir, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("certs: redis: list %s: %w", dir, fs.ErrNotExist)
	}
	prefix := ""
	if dir != "" {
		prefix = strings.TrimSuffix(dir, "/") + "/"
	}
	seen := make(map[string]bool)
	var out []string
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, k := range keys {
		parts := strings.Split(strings.TrimPrefix(k, prefix), "/")
		if !recursive {
			add(prefix + parts[0])
			continue
		}
		for i := range parts {
			add(prefix + path.Join(parts[:i+1]...))
		}
	}
	return out, nil
}

// Stat describes key: a value (terminal, with its size and modification
// time) or a directory; a key that is neither wraps fs.ErrNotExist.
func (s *RedisStorage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	var size *redis.IntCmd
	var modified *redis.StringCmd
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		size = p.HStrLen(ctx, s.key(key), fieldValue)
		modified = p.HGet(ctx, s.key(key), fieldModified)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return certmagic.KeyInfo{}, fmt.Errorf("certs: redis: stat %s: %w", key, err)
	}
	if ms, err := strconv.ParseInt(modified.Val(), 10, 64); err == nil {
		return certmagic.KeyInfo{Key: key, Modified: time.UnixMilli(ms), Size: size.Val(), IsTerminal: true}, nil
	}
	under, err := s.under(ctx, key)
	if err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("certs: redis: stat %s: %w", key, err)
	}
	if len(under) == 0 {
		return certmagic.KeyInfo{}, fmt.Errorf("certs: redis: stat %s: %w", key, fs.ErrNotExist)
	}
	return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
}

// Lock takes the lock name (SET NX PX with a random token), polling while
// another holder has it, until ctx is done. A taken lock is kept alive by
// a goroutine that extends its expiry every third of its TTL until
// Unlock; a holder that dies loses it after the TTL (10s).
func (s *RedisStorage) Lock(ctx context.Context, name string) error {
	var lease *redisx.Lease
	for {
		var err error
		lease, err = redisx.TryLease(ctx, s.c, s.lockKey(name), s.lockTTL)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("certs: redis: lock", "name", name, "err", err)
		}
		if lease != nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("certs: redis: lock %s: %w", name, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
	h := &heldLock{lease: lease, stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	s.held[name] = h
	s.mu.Unlock()
	go s.keepAlive(name, h)
	return nil
}

// keepAlive extends the lock name held as h until h.stop is closed or the
// lock turns out lost.
func (s *RedisStorage) keepAlive(name string, h *heldLock) {
	defer close(h.done)
	t := time.NewTicker(s.lockTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
		err := h.lease.Renew(ctx, s.lockTTL)
		cancel()
		switch {
		case errors.Is(err, redisx.ErrLost):
			s.log.Warn("certs: redis: lock lost before unlock", "name", name)
			return
		case err != nil:
			s.log.Warn("certs: redis: refresh lock", "name", name, "err", err)
		}
	}
}

// Unlock stops keeping the lock name alive and deletes it if this holder
// still has it.
func (s *RedisStorage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	h := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("certs: redis: unlock %s: not held", name)
	}
	close(h.stop)
	<-h.done
	if _, err := h.lease.Release(ctx); err != nil {
		return fmt.Errorf("certs: redis: unlock %s: %w", name, err)
	}
	return nil
}
