package redisx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrLost is returned by Renew when the lease is no longer this holder's:
// it expired, and perhaps another holder took it.
var ErrLost = errors.New("redisx: lease lost")

// Token returns a random token that names one holder.
func Token() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Lease is a key held by one holder at a time (SET NX PX with a random
// token). It expires after its TTL unless renewed, so a holder that dies
// loses it; Renew and Release act only while the key still holds this
// holder's token, so a holder whose lease expired never extends or deletes
// the lease another holder took since.
type Lease struct {
	c     redis.Cmdable
	key   string
	token string
}

// TryLease takes key for ttl if nobody holds it. It returns a nil Lease
// and a nil error when another holder has it. A ttl under a millisecond is
// refused: go-redis would set a key that never expires.
func TryLease(ctx context.Context, c redis.Cmdable, key string, ttl time.Duration) (*Lease, error) {
	if ttl < time.Millisecond {
		return nil, fmt.Errorf("redisx: lease %s for %v: want a ttl of 1ms or more", key, ttl)
	}
	token := Token()
	ok, err := c.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return nil, fmt.Errorf("redisx: lease %s: %w", key, err)
	}
	if !ok {
		return nil, nil
	}
	return &Lease{c: c, key: key, token: token}, nil
}

// Key is the leased key.
func (l *Lease) Key() string { return l.key }

// renewScript sets the lease's expiry if it still holds the caller's token.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)

// Renew sets the lease to expire ttl from now, or returns ErrLost when it
// is no longer this holder's. A ttl under a millisecond is refused: Redis
// would delete the key.
func (l *Lease) Renew(ctx context.Context, ttl time.Duration) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("redisx: renew %s for %v: want a ttl of 1ms or more", l.key, ttl)
	}
	n, err := renewScript.Run(ctx, l.c, []string{l.key}, l.token, ttl.Milliseconds()).Int()
	switch {
	case err != nil:
		return fmt.Errorf("redisx: renew %s: %w", l.key, err)
	case n == 0:
		return fmt.Errorf("redisx: renew %s: %w", l.key, ErrLost)
	}
	return nil
}

// releaseScript deletes the lease, or replaces it with the marker ARGV[2]
// for ARGV[3] milliseconds when a marker is given, if it still holds the
// caller's token. It returns 1 when it did.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1`)

// Release deletes the lease if it is still this holder's, and reports
// whether it was.
func (l *Lease) Release(ctx context.Context) (bool, error) {
	return l.release(ctx, "", 0)
}

// ReleaseAs replaces the lease, if it is still this holder's, with marker
// for ttl (a value the next holders read, such as "do not wait for this
// key"), and reports whether it was this holder's. A ttl under a
// millisecond is refused: Redis would fail the SET.
func (l *Lease) ReleaseAs(ctx context.Context, marker string, ttl time.Duration) (bool, error) {
	if marker == "" || ttl < time.Millisecond {
		return false, fmt.Errorf("redisx: release %s as %q for %v: want a marker and a ttl of 1ms or more", l.key, marker, ttl)
	}
	return l.release(ctx, marker, ttl)
}

func (l *Lease) release(ctx context.Context, marker string, ttl time.Duration) (bool, error) {
	n, err := releaseScript.Run(ctx, l.c, []string{l.key}, l.token, marker, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("redisx: release %s: %w", l.key, err)
	}
	return n == 1, nil
}

// SharedLease is one holder's part of a key that several hold at once: a
// hash with one field per holder, the whole key expiring ttl after the
// last holder joined. It says "some holder is still at it" to whoever
// checks that the key exists, and the expiry bounds what holders that died
// leave behind.
type SharedLease struct {
	c     redis.Cmdable
	key   string
	token string
}

// TakeShared joins the holders of key and sets the key to expire after
// ttl, in one round trip.
func TakeShared(ctx context.Context, c redis.Cmdable, key string, ttl time.Duration) (*SharedLease, error) {
	token := Token()
	pipe := c.Pipeline()
	pipe.HSet(ctx, key, token, 1)
	pipe.PExpire(ctx, key, ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redisx: shared lease %s: %w", key, err)
	}
	return &SharedLease{c: c, key: key, token: token}, nil
}

// Release removes this holder; the key goes with its last holder.
func (s *SharedLease) Release(ctx context.Context) error {
	if err := s.c.HDel(ctx, s.key, s.token).Err(); err != nil {
		return fmt.Errorf("redisx: release shared lease %s: %w", s.key, err)
	}
	return nil
}
