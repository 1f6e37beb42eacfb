package redisx

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Backoff bounds of a Subscription: the first retry after a loss waits
// backoffMin, each further one twice as long, up to backoffMax. The cap
// is short because owners distrust what they mirror while the subscription
// is down: a Redis that comes back should be heard within a second.
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = time.Second
)

// Subscriber is the part of a go-redis client a Subscription needs
// (redis.UniversalClient has it).
type Subscriber interface {
	Subscribe(ctx context.Context, channels ...string) *redis.PubSub
}

// Handler is what a Subscription tells its owner. Every function is
// optional and is called from the subscription's goroutine, one at a time,
// in order, with a context that Close cancels.
type Handler struct {
	// Message is called for each message published on the channel.
	Message func(context.Context, *redis.Message)
	// Up is called when the subscription is up: first after Start, and
	// again after each loss. Messages published while the
	// subscription was down are lost, so this is where an owner that
	// mirrors state reads it again.
	Up func(context.Context, Gap)
	// Down is called once when the subscription is lost, with the error.
	Down func(context.Context, error)
}

// Gap describes the time before a subscription came up.
type Gap struct {
	// Resubscribed is false for the first subscription, true after a loss.
	Resubscribed bool
	// Down is how long the subscription was lost, from when the failure
	// that broke it was noticed (within a ping interval of it) to the
	// first answer on the new one; zero the first time.
	Down time.Duration
	// Err is the failure that broke it (nil the first time).
	Err error
}

// Subscription listens on one channel and resubscribes after a lost
// connection, waiting between attempts with a growing backoff. A quiet
// channel's connection is pinged every ping interval, so that a dead
// connection is noticed without a message.
type Subscription struct {
	c       Subscriber
	channel string
	ping    time.Duration
	h       Handler

	healthy atomic.Bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewSubscription returns a Subscription to channel; Start starts it. The
// two steps let an owner store the Subscription before its handler can
// run.
func NewSubscription(c Subscriber, channel string, ping time.Duration, h Handler) *Subscription {
	return &Subscription{c: c, channel: channel, ping: ping, h: h, done: make(chan struct{})}
}

// Start subscribes in a new goroutine, which Close stops.
func (s *Subscription) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.run(ctx)
}

// Healthy reports whether the subscription is up: Redis answered on it
// and its connection has not failed since.
func (s *Subscription) Healthy() bool { return s.healthy.Load() }

// Close stops the subscription and waits for its goroutine (a handler
// call in progress finishes first); it is then no longer healthy.
func (s *Subscription) Close() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
}

func (s *Subscription) run(ctx context.Context) {
	defer close(s.done)
	defer s.healthy.Store(false)
	ps := s.c.Subscribe(ctx, s.channel)
	// A read in progress does not watch ctx: closing the PubSub ends it,
	// so that Close does not wait for the ping interval.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer func() {
		if stop() {
			ps.Close()
		}
	}()
	var (
		backoff = backoffMin
		up      = false // confirmed once
		lostAt  time.Time
		lostErr error
	)
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, s.ping)
		if err == nil {
			backoff = backoffMin
			// Any answer proves the subscription: after a reconnect go-redis
			// resubscribes before it reads, so the first is usually Redis's
			// confirmation.
			if !s.healthy.Load() {
				gap := Gap{Resubscribed: up}
				if up {
					gap.Down, gap.Err = time.Since(lostAt), lostErr
				}
				up = true
				s.healthy.Store(true)
				if s.h.Up != nil {
					s.h.Up(ctx, gap)
				}
			}
			if m, ok := msg.(*redis.Message); ok && s.h.Message != nil {
				s.h.Message(ctx, m)
			}
			continue
		}
		if isTimeout(err) && ps.Ping(ctx) == nil {
			continue // a quiet channel on a live connection
		}
		if ctx.Err() != nil {
			return
		}
		if s.healthy.Swap(false) {
			lostAt, lostErr = time.Now(), err
			if s.h.Down != nil {
				s.h.Down(ctx, err)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, backoffMax)
	}
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}
