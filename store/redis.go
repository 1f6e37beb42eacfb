package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/redis/go-redis/v9"
)

// Redis is a Store on Redis (one node, Sentinel or Cluster): each entry is
// encoded by Encode under one key that expires with the entry's ttl.
// Commands are bounded by short timeouts and retried at most once, so an
// unreachable Redis makes operations fail fast with errors; the client
// reconnects by itself when Redis comes back.
type Redis struct {
	c      redis.UniversalClient
	prefix string
	gets   *batcher
}

// NewRedis returns a Redis store for cfg, a configuration config.Parse
// accepted (its defaults and checks are config's: see config.Default). It
// loads the TLS CA file but does not connect: Redis may be down when the
// proxy starts, and operations then fail until it is up.
func NewRedis(cfg config.RedisConfig) (*Redis, error) {
	opts := &redis.UniversalOptions{
		Addrs:                 cfg.Addrs,
		Username:              cfg.Username,
		Password:              cfg.Password,
		DB:                    cfg.DB,
		MasterName:            cfg.MasterName,
		IsClusterMode:         cfg.Cluster,
		DialTimeout:           cfg.DialTimeout.D(),
		ReadTimeout:           cfg.ReadTimeout.D(),
		WriteTimeout:          cfg.WriteTimeout.D(),
		ContextTimeoutEnabled: true,
		PoolSize:              cfg.PoolSize,
		MaxRetries:            1,
	}
	if cfg.TLS.Enabled {
		tc, err := tlsConfig(cfg.TLS)
		if err != nil {
			return nil, err
		}
		opts.TLSConfig = tc
	}
	prefix := cfg.KeyPrefix
	c := newUniversalClient(opts)
	// A pipeline of a batch gets one read timeout per round trip, like a
	// single command, plus the write.
	return &Redis{c: c, prefix: prefix, gets: newBatcher(c, opts.ReadTimeout+opts.WriteTimeout)}, nil
}

// newUniversalClient is redis.NewUniversalClient with one dial attempt per
// connection instead of go-redis's five, 100ms apart: with those, every
// command against a Redis that refuses connections took a second (two
// tries of five dials), where it now fails in milliseconds. go-redis
// v9.17's UniversalOptions has no DialerRetries, so the options of each
// kind of client are set here, after the same choice of client that
// NewUniversalClient makes.
func newUniversalClient(o *redis.UniversalOptions) redis.UniversalClient {
	const (
		dialerRetries = 1
		// dialerRetryWait is slept after the failed attempt too; the
		// command's own retry (MaxRetries) backs off by itself.
		dialerRetryWait = time.Millisecond
	)
	switch {
	case o.MasterName != "":
		fo := o.Failover()
		fo.DialerRetries, fo.DialerRetryTimeout = dialerRetries, dialerRetryWait
		if o.RouteByLatency || o.RouteRandomly || o.IsClusterMode {
			return redis.NewFailoverClusterClient(fo)
		}
		return redis.NewFailoverClient(fo)
	case len(o.Addrs) > 1 || o.IsClusterMode:
		co := o.Cluster()
		co.DialerRetries, co.DialerRetryTimeout = dialerRetries, dialerRetryWait
		return redis.NewClusterClient(co)
	default:
		so := o.Simple()
		so.DialerRetries, so.DialerRetryTimeout = dialerRetries, dialerRetryWait
		return redis.NewClient(so)
	}
}

// tlsConfig builds the client TLS configuration; a CA file replaces the
// system roots.
func tlsConfig(c config.RedisTLSConfig) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify,
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("store: redis: tls ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("store: redis: tls ca_file %s: no PEM certificate in it", c.CAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// KeyFor returns the Redis key of the entry stored under id:
// "{prefix}:e:{id}", the id in braces being the hash tag that puts every
// key of one entry in the same cluster slot.
func (r *Redis) KeyFor(id string) string { return r.prefix + ":e:{" + id + "}" }

// Client returns the underlying go-redis client.
func (r *Redis) Client() redis.UniversalClient { return r.c }

// Prefix returns the prefix every key starts with.
func (r *Redis) Prefix() string { return r.prefix }

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("store: redis ping: %w", err)
	}
	return nil
}

// Get returns the entry stored under id, or ErrNotFound. The reply's bytes
// are fresh (go-redis reads each reply into a new string and Bytes does not
// copy it), so the entry's Body aliases them without a copy.
func (r *Redis) Get(ctx context.Context, id string) (*Entry, error) {
	key := r.KeyFor(id)
	b, err := r.gets.get(ctx, key)
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: redis get %s: %w", key, err)
	}
	e, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("store: redis get %s: %w", key, err)
	}
	return e, nil
}

// Set stores e under id for ttl (rounded up to a millisecond), replacing
// what was stored there. When ttl <= 0, e is not stored and the previous
// entry under id is deleted.
func (r *Redis) Set(ctx context.Context, id string, e *Entry, ttl time.Duration) error {
	key := r.KeyFor(id)
	if ttl <= 0 {
		if err := r.c.Del(ctx, key).Err(); err != nil {
			return fmt.Errorf("store: redis set %s (ttl %v, delete): %w", key, ttl, err)
		}
		return nil
	}
	ttl = (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
	if err := r.c.Set(ctx, key, Encode(e), ttl).Err(); err != nil {
		return fmt.Errorf("store: redis set %s: %w", key, err)
	}
	return nil
}

// Delete removes the entries stored under ids in one pipeline of
// single-key DELs, since in a cluster the keys may live in different slots.
func (r *Redis) Delete(ctx context.Context, ids ...string) error {
	switch len(ids) {
	case 0:
		return nil
	case 1:
		key := r.KeyFor(ids[0])
		if err := r.c.Del(ctx, key).Err(); err != nil {
			return fmt.Errorf("store: redis delete %s: %w", key, err)
		}
		return nil
	}
	pipe := r.c.Pipeline()
	for _, id := range ids {
		pipe.Del(ctx, r.KeyFor(id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store: redis delete %d keys (%s, ...): %w", len(ids), r.KeyFor(ids[0]), err)
	}
	return nil
}

// Close closes the client's connections.
func (r *Redis) Close() error {
	r.gets.close()
	if err := r.c.Close(); err != nil {
		return fmt.Errorf("store: redis close: %w", err)
	}
	return nil
}

var (
	_ Store = (*Redis)(nil)
	_ Store = (*Memory)(nil)
)

// RedisConfigError is Redis refusing this instance's configuration: the
// password, the ACL user or the database. Unlike an unreachable Redis,
// waiting does not help, so it stops the start.
type RedisConfigError struct {
	// Option is the configuration option to fix, e.g. store.redis.password.
	Option string
	// Problem says what Redis refused, in words.
	Problem string
	// Err is Redis's reply.
	Err error
}

func (e *RedisConfigError) Error() string {
	return fmt.Sprintf("%s: %s (%v)", e.Option, e.Problem, e.Err)
}

func (e *RedisConfigError) Unwrap() error { return e.Err }

// Check asks Redis whether it accepts this instance: a PING and a GET of a
// key under the prefix, which are what the first connection's AUTH and
// SELECT, and the ACL's command and key rules, answer to. It returns a
// *RedisConfigError when Redis refused the configuration, another error
// when it did not answer, and nil when it serves.
func (r *Redis) Check(ctx context.Context, cfg config.RedisConfig) error {
	err := r.c.Ping(ctx).Err()
	if err == nil {
		err = r.c.Get(ctx, r.KeyFor("start-check")).Err()
		if errors.Is(err, redis.Nil) {
			return nil
		}
	}
	if err == nil {
		return nil
	}
	if ce := ConfigProblem(err, cfg); ce != nil {
		return ce
	}
	return fmt.Errorf("store: redis %v: %w", cfg.Addrs, err)
}

// ConfigProblem returns the *RedisConfigError that err is, naming the
// option to fix, or nil when err is not Redis refusing the configuration
// (a timeout, a refused connection, OOM, LOADING...).
func ConfigProblem(err error, cfg config.RedisConfig) *RedisConfigError {
	var re redis.Error
	if err == nil || !errors.As(err, &re) {
		return nil
	}
	msg := re.Error()
	switch {
	case strings.HasPrefix(msg, "NOAUTH "):
		return &RedisConfigError{"store.redis.password", "Redis requires a password and got none", re}
	case redis.IsAuthError(re) && cfg.Username != "":
		return &RedisConfigError{"store.redis.password", fmt.Sprintf("Redis refused user %q with this password", cfg.Username), re}
	case redis.IsAuthError(re):
		return &RedisConfigError{"store.redis.password", "Redis refused the password", re}
	case redis.IsPermissionError(re):
		return &RedisConfigError{"store.redis.username", fmt.Sprintf("Redis's ACL for user %q denies a command or a key under key_prefix %q that cachegate needs", cfg.Username, cfg.KeyPrefix), re}
	case strings.HasPrefix(msg, "ERR") && cfg.Username != "" && strings.Contains(msg, "wrong number of arguments for 'auth'"):
		return &RedisConfigError{"store.redis.username", "this Redis has no ACL users (Redis before 6.0 takes a password only)", re}
	case strings.HasPrefix(msg, "ERR") && strings.Contains(msg, "DB index"):
		return &RedisConfigError{"store.redis.db", fmt.Sprintf("Redis has no database %d", cfg.DB), re}
	case strings.HasPrefix(msg, "ERR") && strings.Contains(strings.ToUpper(msg), "AUTH"):
		return &RedisConfigError{"store.redis.password", "Redis refused the authentication", re}
	}
	return nil
}
