package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// ErrUnavailable is returned, wrapped with the operation and key, by a
// Breaker whose circuit is open: the call failed fast without reaching the
// store.
var ErrUnavailable = errors.New("store unavailable (circuit open)")

// Breaker states, as State reports them and OnStateChange receives them.
const (
	StateClosed   = "closed"
	StateOpen     = "open"
	StateHalfOpen = "half-open"
)

// Defaults of BreakerOptions.
const (
	defaultBreakerFailures = 5
	defaultBreakerCooldown = time.Second
)

// BreakerOptions configures a Breaker.
type BreakerOptions struct {
	// Failures is the number of consecutive failed calls that opens the
	// circuit; 0 means 5. ErrNotFound and a cancelled context are no
	// failures.
	Failures int
	// Cooldown is how long the circuit stays open before a probe call is
	// let through; 0 means 1s.
	Cooldown time.Duration
	// OnStateChange, when set, is called with the new state (StateClosed,
	// StateOpen, StateHalfOpen) on every change, in order, with the
	// breaker's lock held: it must be quick and must not call the Breaker.
	OnStateChange func(state string)
}

// Breaker is a Store that wraps a remote store in a circuit breaker, so
// that an unreachable Redis costs requests nothing instead of a timeout
// each.
//
// Closed, calls go through; after Failures consecutive failures it opens.
// Open, every call fails fast with ErrUnavailable without touching the
// store. After Cooldown it is half-open: the next call goes through as a
// probe while the others still fail fast; the probe's success closes the
// circuit, its failure opens it for another Cooldown. A Breaker is safe for
// concurrent use and runs no goroutine.
//
// An error reply (WRONGPASS, NOPERM, OOM) is a failure like no answer at
// all: the circuit opens for either, and the opening is logged naming the
// option to fix when Redis refused the credentials. Only Unreachable
// tells them apart: an error reply never makes Redis unreachable, since
// other instances may still purge through it.
//
// The state machine is github.com/sony/gobreaker/v2's, which replaced a
// hand-written one: this is exactly its classic three-state breaker
// (ReadyToTrip on consecutive failures, one half-open probe, IsSuccessful
// and IsExcluded to say which outcomes count, a generation that ignores
// calls started before a change). What stays here is what is cachegate's:
// which outcomes count (ErrNotFound is an answer, a cancelled context
// teaches nothing), whether a failure got an answer at all (Unreachable,
// which the tiered store's l1_when_redis_down relies on), and log lines
// that name the Redis options to fix. gobreaker reads the wall clock, so
// the cooldown runs in real time even in tests; only Unreachable's clock
// is injected.
type Breaker struct {
	s    Store
	opts BreakerOptions
	log  *slog.Logger
	cb   *gobreaker.CircuitBreaker[struct{}]
	// now is the clock Unreachable's since is read from (replaced in
	// tests).
	now func() time.Time

	// lost is when the store stopped answering, in Unix nanoseconds: the
	// first of the failures since its last answer that reached no server
	// (zero while it answers, even with errors). Atomic, so that a call
	// that succeeds takes no lock of its own.
	lost atomic.Int64

	mu sync.Mutex
	// lastErr is the latest failure, for the log line of the opening.
	lastErr error
}

// NewBreaker returns a Breaker around s, closed, with opts' zero fields
// set to their defaults; state changes are logged to log (nil: discarded).
func NewBreaker(s Store, opts BreakerOptions, log *slog.Logger) *Breaker {
	if opts.Failures <= 0 {
		opts.Failures = defaultBreakerFailures
	}
	if opts.Cooldown <= 0 {
		opts.Cooldown = defaultBreakerCooldown
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Breaker{s: s, opts: opts, log: log, now: time.Now}
	b.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "store",
		MaxRequests: 1, // one probe while half-open
		Timeout:     opts.Cooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= uint32(opts.Failures)
		},
		IsSuccessful: func(err error) bool {
			return err == nil || errors.Is(err, ErrNotFound)
		},
		IsExcluded: func(err error) bool {
			// The caller gave up: nothing is learnt about the store.
			return errors.Is(err, context.Canceled)
		},
		OnStateChange: b.stateChanged,
	})
	return b
}

// State returns the circuit's state: StateClosed, StateOpen or
// StateHalfOpen. An open circuit whose cooldown has passed reports
// half-open: the next call is the probe.
func (b *Breaker) State() string { return stateName(b.cb.State()) }

// Unreachable reports whether the circuit is open (or probing) because
// the store does not answer at all, and since when: a refused connection or
// a timeout, not an error reply such as WRONGPASS or OOM. While it is, no
// other instance can write to the store either, a purge included.
func (b *Breaker) Unreachable() (since time.Time, ok bool) {
	lost := b.lost.Load()
	if lost == 0 || b.cb.State() == gobreaker.StateClosed {
		return time.Time{}, false
	}
	return time.Unix(0, lost), true
}

// Get returns the inner store's Get, or an error wrapping ErrUnavailable
// when the circuit is open.
func (b *Breaker) Get(ctx context.Context, key string) (*Entry, error) {
	var e *Entry
	err := b.call("get", key, func() (err error) {
		e, err = b.s.Get(ctx, key)
		return err
	})
	return e, err
}

// Set returns the inner store's Set, or an error wrapping ErrUnavailable
// when the circuit is open.
func (b *Breaker) Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
	return b.call("set", key, func() error { return b.s.Set(ctx, key, e, ttl) })
}

// Delete returns the inner store's Delete, or an error wrapping
// ErrUnavailable when the circuit is open.
func (b *Breaker) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	return b.call("delete", keys[0], func() error { return b.s.Delete(ctx, keys...) })
}

// Close closes the inner store, whatever the circuit's state.
func (b *Breaker) Close() error { return b.s.Close() }

// call runs op on the store through the circuit and returns its error,
// or, when the circuit let it not through, an error naming op and key
// that wraps ErrUnavailable.
func (b *Breaker) call(op, key string, run func() error) error {
	ran := false
	_, err := b.cb.Execute(func() (struct{}, error) {
		ran = true
		err := run()
		b.noteOutcome(err)
		return struct{}{}, err
	})
	switch {
	case ran:
		return err
	case errors.Is(err, gobreaker.ErrTooManyRequests):
		return fmt.Errorf("store: %s %s: %w (probe in flight)", op, key, ErrUnavailable)
	default:
		return fmt.Errorf("store: %s %s: %w", op, key, ErrUnavailable)
	}
}

// noteOutcome records whether a call that reached the store shows it
// answering, and keeps a failure for the log line of the opening.
func (b *Breaker) noteOutcome(err error) {
	if err != nil && errors.Is(err, context.Canceled) {
		return
	}
	switch {
	case err == nil || errors.Is(err, ErrNotFound):
		if b.lost.Load() != 0 {
			b.lost.Store(0)
		}
		return
	case !noAnswer(err):
		b.lost.Store(0)
	default:
		b.lost.CompareAndSwap(0, b.now().UnixNano())
	}
	b.mu.Lock()
	b.lastErr = err
	b.mu.Unlock()
}

// noAnswer reports whether err says the store was not reached or did not
// answer in time, as opposed to an answer that is an error.
func noAnswer(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrClosed)
}

// stateChanged logs a change of the circuit and tells OnStateChange; it
// runs with gobreaker's lock held.
func (b *Breaker) stateChanged(_ string, _, to gobreaker.State) {
	switch to {
	case gobreaker.StateOpen:
		b.mu.Lock()
		err := b.lastErr
		b.mu.Unlock()
		if redis.IsAuthError(err) || redis.IsPermissionError(err) {
			// The password or the ACL changed under a running instance.
			b.log.Error("store: Redis refuses this instance's credentials (store.redis.password, store.redis.username): circuit open, requests go to the origin", "err", err)
		} else {
			b.log.Warn("store: circuit open, failing fast", "cooldown", b.opts.Cooldown, "err", err)
		}
	case gobreaker.StateHalfOpen:
		b.log.Info("store: circuit half-open, probing", "cooldown", b.opts.Cooldown)
	case gobreaker.StateClosed:
		b.log.Info("store: circuit closed, store reachable again")
	}
	if b.opts.OnStateChange != nil {
		b.opts.OnStateChange(stateName(to))
	}
}

// stateName is the name of a gobreaker state, as metrics label it.
func stateName(s gobreaker.State) string {
	switch s {
	case gobreaker.StateOpen:
		return StateOpen
	case gobreaker.StateHalfOpen:
		return StateHalfOpen
	default:
		return StateClosed
	}
}

var _ Store = (*Breaker)(nil)
