package store

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
)

// flakyStore is a Store whose every call fails with err while err is set,
// and otherwise finds nothing; it counts the calls that reach it.
type flakyStore struct {
	mu    sync.Mutex
	err   error
	calls int
}

func (s *flakyStore) call() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.err
}

func (s *flakyStore) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *flakyStore) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *flakyStore) Get(context.Context, string) (*Entry, error) {
	if err := s.call(); err != nil {
		return nil, err
	}
	return nil, ErrNotFound
}

func (s *flakyStore) Set(context.Context, string, *Entry, time.Duration) error { return s.call() }
func (s *flakyStore) Delete(context.Context, ...string) error                  { return s.call() }
func (s *flakyStore) Close() error                                             { return nil }

var errDown = errors.New("connection refused")

// newTestBreaker returns a Breaker around s on a fake clock, and the
// states it reported.
func newTestBreaker(s Store, opts BreakerOptions) (*Breaker, *fakeClock, func() []string) {
	var mu sync.Mutex
	var states []string
	opts.OnStateChange = func(state string) {
		mu.Lock()
		defer mu.Unlock()
		states = append(states, state)
	}
	b := NewBreaker(s, opts, testutil.DiscardLogger())
	clock := &fakeClock{t: time.Now()}
	b.now = clock.Now
	return b, clock, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(states)
	}
}

// shortCooldown is the cooldown of tests that wait for the half-open state:
// gobreaker measures it on the wall clock.
const shortCooldown = time.Millisecond

// waitHalfOpen waits, polling, until b's cooldown has passed and its next
// call is the probe.
func waitHalfOpen(t *testing.T, b *Breaker) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for b.State() != StateHalfOpen {
		if time.Now().After(deadline) {
			t.Fatalf("the circuit is %s 5s after it opened with a cooldown of %v, want half-open", b.State(), shortCooldown)
		}
		time.Sleep(shortCooldown)
	}
}

func TestBreakerOpensAfterConsecutiveFailuresAndFailsFast(t *testing.T) {
	ctx := context.Background()
	inner := &flakyStore{err: errDown}
	b, _, _ := newTestBreaker(inner, BreakerOptions{Failures: 3, Cooldown: time.Hour})
	for i := range 3 {
		if b.State() != StateClosed {
			t.Fatalf("after %d failures the state is %s, want closed", i, b.State())
		}
		if _, err := b.Get(ctx, "k"); !errors.Is(err, errDown) {
			t.Fatalf("Get %d: err %v, want the store's error", i, err)
		}
	}
	if b.State() != StateOpen {
		t.Fatalf("after 3 failures the state is %s, want open", b.State())
	}
	calls := inner.Calls()
	if _, err := b.Get(ctx, "k"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Get while open: err %v, want ErrUnavailable", err)
	}
	if err := b.Set(ctx, "k", &Entry{}, time.Minute); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Set while open: err %v, want ErrUnavailable", err)
	}
	if err := b.Delete(ctx, "k"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Delete while open: err %v, want ErrUnavailable", err)
	}
	if n := inner.Calls() - calls; n != 0 {
		t.Errorf("while open %d calls reached the store, want none", n)
	}
}

func TestBreakerSuccessResetsTheFailureCount(t *testing.T) {
	ctx := context.Background()
	inner := &flakyStore{}
	b, _, _ := newTestBreaker(inner, BreakerOptions{Failures: 3})
	for range 5 {
		inner.setErr(errDown)
		b.Get(ctx, "k")
		b.Get(ctx, "k")
		inner.setErr(nil)
		b.Get(ctx, "k")
	}
	if b.State() != StateClosed {
		t.Errorf("after failures never more than 2 in a row the state is %s, want closed", b.State())
	}
}

func TestBreakerNotFoundIsNoFailure(t *testing.T) {
	ctx := context.Background()
	b, _, _ := newTestBreaker(&flakyStore{}, BreakerOptions{Failures: 2})
	for range 10 {
		if _, err := b.Get(ctx, "absent"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get: err %v, want ErrNotFound", err)
		}
	}
	if b.State() != StateClosed {
		t.Errorf("after 10 misses the state is %s, want closed", b.State())
	}
}

func TestBreakerHalfOpenProbe(t *testing.T) {
	ctx := context.Background()
	inner := &flakyStore{err: errDown}
	b, _, states := newTestBreaker(inner, BreakerOptions{Failures: 1, Cooldown: shortCooldown})
	b.Get(ctx, "k")
	waitHalfOpen(t, b)

	// The probe fails: open again for another cooldown.
	calls := inner.Calls()
	if _, err := b.Get(ctx, "k"); !errors.Is(err, errDown) {
		t.Fatalf("probe after the cooldown: err %v, want it to reach the store", err)
	}
	if got := states(); !slices.Equal(got, []string{StateOpen, StateHalfOpen, StateOpen}) {
		t.Fatalf("after a failed probe OnStateChange saw %v, want open, half-open, open", got)
	}
	if n := inner.Calls() - calls; n != 1 {
		t.Fatalf("%d calls reached the store for one probe, want 1", n)
	}

	waitHalfOpen(t, b)
	inner.setErr(nil)
	if _, err := b.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("probe after the store recovered: err %v, want the store's answer", err)
	}
	if b.State() != StateClosed {
		t.Errorf("after a successful probe the state is %s, want closed", b.State())
	}
	want := []string{StateOpen, StateHalfOpen, StateOpen, StateHalfOpen, StateClosed}
	if got := states(); !slices.Equal(got, want) {
		t.Errorf("OnStateChange saw %v, want %v", got, want)
	}
}

// blockingStore is a Store whose Get waits for release.
type blockingStore struct {
	flakyStore
	entered chan struct{}
	release chan struct{}
}

func (s *blockingStore) Get(ctx context.Context, key string) (*Entry, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.flakyStore.Get(ctx, key)
}

func TestBreakerLetsOneProbeThrough(t *testing.T) {
	ctx := context.Background()
	inner := &blockingStore{entered: make(chan struct{}), release: make(chan struct{})}
	b, _, _ := newTestBreaker(inner, BreakerOptions{Failures: 1, Cooldown: shortCooldown})
	inner.setErr(errDown)
	go func() { <-inner.entered; inner.release <- struct{}{} }()
	b.Get(ctx, "k")
	waitHalfOpen(t, b)

	probe := make(chan error)
	go func() { _, err := b.Get(ctx, "k"); probe <- err }()
	<-inner.entered
	if _, err := b.Get(ctx, "k"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Get while a probe is in flight: err %v, want ErrUnavailable", err)
	}
	inner.setErr(nil)
	inner.release <- struct{}{}
	if err := <-probe; !errors.Is(err, ErrNotFound) {
		t.Errorf("probe: err %v, want ErrNotFound", err)
	}
	if b.State() != StateClosed {
		t.Errorf("after the probe succeeded the state is %s, want closed", b.State())
	}
}

func TestBreakerOnRedisThatStopsAndRestarts(t *testing.T) {
	ctx := context.Background()
	srv := testutil.OwnRedis(t)
	r := newTestRedis(t, config.RedisConfig{Addrs: []string{srv.Addr()}})
	const cooldown = 50 * time.Millisecond
	b := NewBreaker(r, BreakerOptions{Failures: 3, Cooldown: cooldown}, nil)
	if _, err := b.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get with Redis up: err %v, want ErrNotFound", err)
	}

	srv.Stop()
	for i := range 3 {
		if _, err := b.Get(ctx, "k"); err == nil || errors.Is(err, ErrUnavailable) {
			t.Fatalf("Get %d with Redis stopped: err %v, want Redis's error", i, err)
		}
	}
	if b.State() != StateOpen {
		t.Fatalf("after 3 failed Gets the state is %s, want open", b.State())
	}
	if _, err := b.Get(ctx, "k"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Get while open: err %v, want ErrUnavailable", err)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// Probe (once a cooldown has passed) until the client has reconnected.
	testutil.Eventually(t, 5*time.Second, "the breaker closes after Redis restarted", func() bool {
		b.Get(ctx, "k")
		return b.State() == StateClosed
	})
	e := sampleEntry(64)
	if err := b.Set(ctx, "k", e, time.Minute); err != nil {
		t.Errorf("Set through the closed breaker: %v", err)
	}
}

// BenchmarkBreakerGetParallel measures what the breaker adds to a call
// that reaches the store (a store that answers at once).
func BenchmarkBreakerGetParallel(b *testing.B) {
	ctx := context.Background()
	br := NewBreaker(&flakyStore{}, BreakerOptions{}, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			br.Get(ctx, "k")
		}
	})
}
