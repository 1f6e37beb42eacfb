package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
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
type Breaker struct {
	s    Store
	opts BreakerOptions
	log  *slog.Logger
	// now is the clock the cooldown is measured against (replaced in tests).
	now func() time.Time

	mu       sync.Mutex
	state    string
	failures int       // consecutive failures while closed
	until    time.Time // end of the cooldown while open
	probing  bool      // a probe is in flight while half-open
	// lost is when the store stopped answering: the first of the failures
	// since its last answer that reached no server (zero while it
	// answers, even with errors).
	lost time.Time
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
	return &Breaker{s: s, opts: opts, log: log, now: time.Now, state: StateClosed}
}

// State returns the circuit's state: StateClosed, StateOpen or
// StateHalfOpen. An open circuit whose cooldown has passed reports open
// until a call probes it.
func (b *Breaker) State() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// Unreachable reports whether the circuit is open (or probing) because
// the store does not answer at all, and since when: a refused connection or
// a timeout, not an error reply such as WRONGPASS or OOM. While it is, no
// other instance can write to the store either, a purge included.
func (b *Breaker) Unreachable() (since time.Time, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lost, b.state != StateClosed && !b.lost.IsZero()
}

// Get returns the inner store's Get, or an error wrapping ErrUnavailable
// when the circuit is open.
func (b *Breaker) Get(ctx context.Context, key string) (*Entry, error) {
	probe, err := b.allow("get", key)
	if err != nil {
		return nil, err
	}
	e, err := b.s.Get(ctx, key)
	b.done(probe, err)
	return e, err
}

// Set returns the inner store's Set, or an error wrapping ErrUnavailable
// when the circuit is open.
func (b *Breaker) Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
	probe, err := b.allow("set", key)
	if err != nil {
		return err
	}
	err = b.s.Set(ctx, key, e, ttl)
	b.done(probe, err)
	return err
}

// Delete returns the inner store's Delete, or an error wrapping
// ErrUnavailable when the circuit is open.
func (b *Breaker) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	probe, err := b.allow("delete", keys[0])
	if err != nil {
		return err
	}
	err = b.s.Delete(ctx, keys...)
	b.done(probe, err)
	return err
}

// Close closes the inner store, whatever the circuit's state.
func (b *Breaker) Close() error { return b.s.Close() }

// allow reports whether a call may reach the store, and whether it is the
// half-open probe; a call that may not gets an error naming op and key.
func (b *Breaker) allow(op, key string) (probe bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case StateClosed:
		return false, nil
	case StateOpen:
		if b.now().Before(b.until) {
			return false, fmt.Errorf("store: %s %s: %w", op, key, ErrUnavailable)
		}
		b.setState(StateHalfOpen)
		b.log.Info("store: circuit half-open, probing", "cooldown", b.opts.Cooldown)
	}
	if b.probing {
		return false, fmt.Errorf("store: %s %s: %w (probe in flight)", op, key, ErrUnavailable)
	}
	b.probing = true
	return true, nil
}

// done records the outcome of a call that allow let through.
func (b *Breaker) done(probe bool, err error) {
	failed := err != nil && !errors.Is(err, ErrNotFound)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil && errors.Is(err, context.Canceled) {
		// The caller gave up: nothing is learnt about the store.
		if probe {
			b.probing = false
		}
		return
	}
	b.noteReach(err)
	if probe {
		b.probing = false
		if failed {
			b.open(err)
		} else {
			b.failures = 0
			b.setState(StateClosed)
			b.log.Info("store: circuit closed, store reachable again")
		}
		return
	}
	if b.state != StateClosed {
		// A call started before the circuit opened: the probe decides.
		return
	}
	if !failed {
		b.failures = 0
		return
	}
	b.failures++
	if b.failures >= b.opts.Failures {
		b.open(err)
	}
}

// noteReach records whether the call's outcome shows the store answering;
// b.mu is held.
func (b *Breaker) noteReach(err error) {
	switch {
	case err == nil || errors.Is(err, ErrNotFound) || !noAnswer(err):
		b.lost = time.Time{}
	case b.lost.IsZero():
		b.lost = b.now()
	}
}

// noAnswer reports whether err says the store was not reached or did not
// answer in time, as opposed to an answer that is an error.
func noAnswer(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrClosed)
}

// open opens the circuit for a cooldown after err; b.mu is held.
func (b *Breaker) open(err error) {
	b.failures = 0
	b.until = b.now().Add(b.opts.Cooldown)
	b.setState(StateOpen)
	if redis.IsAuthError(err) || redis.IsPermissionError(err) {
		// The password or the ACL changed under a running instance.
		b.log.Error("store: Redis refuses this instance's credentials (store.redis.password, store.redis.username): circuit open, requests go to the origin", "err", err)
		return
	}
	b.log.Warn("store: circuit open, failing fast", "cooldown", b.opts.Cooldown, "err", err)
}

// setState changes the state and tells OnStateChange; b.mu is held.
func (b *Breaker) setState(s string) {
	if b.state == s {
		return
	}
	b.state = s
	if b.opts.OnStateChange != nil {
		b.opts.OnStateChange(s)
	}
}

var _ Store = (*Breaker)(nil)
