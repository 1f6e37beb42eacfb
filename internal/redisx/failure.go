package redisx

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// FailurePause is how long a failure keeps per-request calls off Redis:
// while Redis does not answer, each request would otherwise wait for its
// own timeout.
const FailurePause = time.Second

// RecentFailure remembers when a call to Redis last failed. The zero value
// remembers none and pauses FailurePause. Times are passed in, so that
// callers keep their own (injectable) clock.
type RecentFailure struct {
	// Pause replaces FailurePause when set (tests shorten it).
	Pause time.Duration
	at    atomic.Int64
}

// Note records err at now when it says that Redis failed. A miss
// (redis.Nil) is an answer, and a caller's own cancellation says nothing
// about Redis (a client that hangs up must not turn Redis off for others);
// a deadline does count: Redis was too slow.
func (f *RecentFailure) Note(err error, now time.Time) {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return
	}
	f.at.Store(now.UnixNano())
}

// Recent reports whether Redis failed less than the pause before now.
func (f *RecentFailure) Recent(now time.Time) bool {
	at := f.at.Load()
	return at != 0 && now.UnixNano()-at < int64(f.Window())
}

// Window is how long a failure keeps calls off Redis: Pause, or
// FailurePause when it is unset.
func (f *RecentFailure) Window() time.Duration {
	if f.Pause == 0 {
		return FailurePause
	}
	return f.Pause
}
