package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/store/redistest"
)

// outageFixture is a Tiered store over a Breaker over its own
// redis-server, all on one fake clock, whose L1 serves for bound while
// Redis is unreachable. The purge subscription is down (trusted false), as
// it is while Redis is.
type outageFixture struct {
	srv     *redistest.Server
	b       *Breaker
	t       *Tiered
	clock   *fakeClock
	trusted atomic.Bool
}

func newOutageFixture(t *testing.T, srv *redistest.Server, cfg config.RedisConfig, bound time.Duration) *outageFixture {
	t.Helper()
	f := &outageFixture{srv: srv, clock: &fakeClock{t: time.Now()}}
	cfg.Addrs = []string{srv.Addr()}
	// One failure opens the circuit, and it stays open: the test decides
	// what Redis does, not the cooldown.
	f.b = NewBreaker(newTestRedis(t, cfg), BreakerOptions{Failures: 1, Cooldown: time.Hour}, nil)
	f.b.now = f.clock.Now
	l1 := NewMemory(1 << 20)
	l1.now = f.clock.Now
	f.t = NewTiered(l1, f.b, TieredOptions{Trusted: f.trusted.Load, Unreachable: f.b.Unreachable, L1WhenRedisDown: bound})
	f.t.now = f.clock.Now
	return f
}

func (f *outageFixture) fresh() *Entry {
	e := bodyEntry(512)
	e.ResponseTime = f.clock.Now()
	e.Freshness = time.Hour
	return e
}

func TestTieredServesL1WhileRedisIsUnreachableUpToTheBoundThenStops(t *testing.T) {
	ctx := context.Background()
	f := newOutageFixture(t, testutil.OwnRedis(t), config.RedisConfig{}, 30*time.Second)
	e := f.fresh()
	if err := f.t.Set(ctx, "k", e, time.Hour); err != nil {
		t.Fatalf("Set with Redis up: %v", err)
	}
	f.srv.Stop()
	// The first failure opens the circuit: Redis has stopped answering.
	if _, err := f.t.Get(ctx, "k"); err == nil {
		t.Fatal("Get that found Redis gone: no error, want Redis's")
	}
	if since, ok := f.b.Unreachable(); !ok || !since.Equal(f.clock.Now()) {
		t.Fatalf("Unreachable() = %v, %v; want now, true", since, ok)
	}
	f.clock.Advance(29 * time.Second)
	got, err := f.t.Get(ctx, "k")
	if err != nil {
		t.Fatalf("Get 29s into the outage (bound 30s): %v, want the L1 copy", err)
	}
	if !got.RedisDown || got == e || e.RedisDown {
		t.Errorf("served entry: RedisDown %v, same pointer %v, stored entry flagged %v; want a flagged copy", got.RedisDown, got == e, e.RedisDown)
	}
	if err := f.t.Set(ctx, "k2", got, time.Hour); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Set while the circuit is open: %v, want ErrUnavailable", err)
	}
	if again, _ := f.t.l1.Get(ctx, "k2"); again == nil || again.RedisDown {
		t.Errorf("a flagged copy stored again kept the flag in L1: %+v", again)
	}
	f.clock.Advance(2 * time.Second)
	if got, err := f.t.Get(ctx, "k"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Get 31s into the outage (bound 30s): %v, %v; want ErrUnavailable (L1 no longer trusted)", got, err)
	}
}

func TestTieredBoundZeroKeepsL1UnusedWhileRedisIsDown(t *testing.T) {
	ctx := context.Background()
	f := newOutageFixture(t, testutil.OwnRedis(t), config.RedisConfig{}, 0)
	if err := f.t.Set(ctx, "k", f.fresh(), time.Hour); err != nil {
		t.Fatal(err)
	}
	f.srv.Stop()
	f.t.Get(ctx, "k")
	if got, err := f.t.Get(ctx, "k"); err == nil {
		t.Errorf("Get with Redis down and l1_when_redis_down 0: %+v, want an error", got)
	}
}

func TestTieredDoesNotServeL1WhenRedisAnswersWithErrors(t *testing.T) {
	// Redis answers (WRONGPASS): another instance with the right password
	// can still purge, so L1 is not trusted.
	ctx := context.Background()
	f := newOutageFixture(t, testutil.OwnRedis(t, "--requirepass", "secret"), config.RedisConfig{Password: "wrong"}, time.Hour)
	f.t.Set(ctx, "k", f.fresh(), time.Hour) // fails on L2, written to L1
	f.t.Get(ctx, "k")
	if f.b.State() != StateOpen {
		t.Fatalf("breaker %s after WRONGPASS, want open", f.b.State())
	}
	if _, ok := f.b.Unreachable(); ok {
		t.Error("Unreachable() true for a Redis that answers WRONGPASS")
	}
	if got, err := f.t.Get(ctx, "k"); err == nil {
		t.Errorf("Get with Redis refusing the password: %+v, want an error (L1 not trusted)", got)
	}
}

// replyError is an error reply from Redis, as go-redis types them.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

func TestBreakerUnreachableCountsOnlyFailuresWithoutAnAnswer(t *testing.T) {
	ctx := context.Background()
	s := &flakyStore{}
	b, clock, states := newTestBreaker(s, BreakerOptions{Failures: 2, Cooldown: shortCooldown})
	start := clock.Now()
	s.setErr(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")})
	b.Get(ctx, "k")
	if _, ok := b.Unreachable(); ok {
		t.Error("Unreachable() true while the circuit is still closed")
	}
	clock.Advance(time.Second)
	b.Get(ctx, "k")
	if since, ok := b.Unreachable(); !ok || !since.Equal(start) {
		t.Errorf("Unreachable() = %v, %v after two refused connections; want the first failure's time %v, true", since, ok, start)
	}
	// The probe gets an answer, an error one: Redis is reachable.
	waitHalfOpen(t, b)
	s.setErr(replyError("OOM command not allowed when used memory > 'maxmemory'."))
	if _, err := b.Get(ctx, "k"); !errors.As(err, new(replyError)) {
		t.Fatalf("probe: err %v, want Redis's OOM reply", err)
	}
	if got := states(); len(got) < 3 || got[2] != StateOpen {
		t.Fatalf("OnStateChange saw %v after a failed probe, want open, half-open, open", got)
	}
	if _, ok := b.Unreachable(); ok {
		t.Error("Unreachable() true after Redis answered OOM")
	}
}

func TestBreakerLogsRefusedCredentialsNamingTheOptions(t *testing.T) {
	srv := testutil.OwnRedis(t, "--requirepass", "secret")
	var buf bytes.Buffer
	r := newTestRedis(t, config.RedisConfig{Addrs: []string{srv.Addr()}, Password: "wrong"})
	b := NewBreaker(r, BreakerOptions{Failures: 1}, slog.New(slog.NewTextHandler(&buf, nil)))
	b.Get(context.Background(), "k")
	if out := buf.String(); !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "store.redis.password") || !strings.Contains(out, "WRONGPASS") {
		t.Errorf("log after WRONGPASS:\n%s\nwant an ERROR naming store.redis.password with Redis's reply", out)
	}
}

func TestCheckNamesTheOptionRedisRefused(t *testing.T) {
	srv := testutil.OwnRedis(t, "--requirepass", "secret", "--databases", "4")
	admin := NewBreaker(newTestRedis(t, config.RedisConfig{Addrs: []string{srv.Addr()}, Password: "secret"}), BreakerOptions{}, nil)
	if err := admin.s.(*Redis).Client().Do(context.Background(), "ACL", "SETUSER", "limited", "on", ">pw", "~other:*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		cfg    config.RedisConfig
		option string // "" for no config error
		reply  string
	}{
		{"wrong password", config.RedisConfig{Password: "wrong"}, "store.redis.password", "WRONGPASS"},
		{"no password", config.RedisConfig{}, "store.redis.password", "NOAUTH"},
		{"unknown user", config.RedisConfig{Username: "nobody", Password: "secret"}, "store.redis.password", "WRONGPASS"},
		{"ACL denies the keys", config.RedisConfig{Username: "limited", Password: "pw"}, "store.redis.username", "NOPERM"},
		{"database out of range", config.RedisConfig{Password: "secret", DB: 9}, "store.redis.db", "DB index is out of range"},
		{"all good", config.RedisConfig{Password: "secret", DB: 3}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Addrs = []string{srv.Addr()}
			tc.cfg.KeyPrefix = "cachegate"
			r, err := NewRedis(withDefaults(tc.cfg))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			err = r.Check(context.Background(), tc.cfg)
			var ce *RedisConfigError
			switch {
			case tc.option == "" && err != nil:
				t.Fatalf("Check: %v, want nil", err)
			case tc.option == "":
			case !errors.As(err, &ce):
				t.Fatalf("Check: %v (%T), want a *RedisConfigError", err, err)
			case ce.Option != tc.option || !strings.HasPrefix(err.Error(), tc.option+": ") || !strings.Contains(err.Error(), tc.reply):
				t.Errorf("Check: %q, want it to start with %q and quote %q", err, tc.option+": ", tc.reply)
			}
		})
	}
}

func TestCheckOfAnUnreachableRedisIsNoConfigError(t *testing.T) {
	srv := testutil.OwnRedis(t)
	srv.Stop()
	cfg := config.RedisConfig{Addrs: []string{srv.Addr()}}
	r, err := NewRedis(withDefaults(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	err = r.Check(context.Background(), cfg)
	var ce *RedisConfigError
	if err == nil || errors.As(err, &ce) {
		t.Errorf("Check of a stopped Redis: %v, want an error that is no *RedisConfigError", err)
	}
}

func TestConfigProblemNamesTheOptionForEachRefusal(t *testing.T) {
	user := config.RedisConfig{Username: "app", KeyPrefix: "cachegate"}
	for _, tc := range []struct {
		reply  string
		cfg    config.RedisConfig
		option string
	}{
		{"WRONGPASS invalid username-password pair or user is disabled.", config.RedisConfig{}, "store.redis.password"},
		{"NOAUTH Authentication required.", config.RedisConfig{}, "store.redis.password"},
		{"NOPERM this user has no permissions to run the 'get' command", user, "store.redis.username"},
		{"ERR wrong number of arguments for 'auth' command", user, "store.redis.username"},
		{"ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?", config.RedisConfig{}, "store.redis.password"},
		{"ERR DB index is out of range", config.RedisConfig{DB: 16}, "store.redis.db"},
		{"ERR invalid DB index", config.RedisConfig{DB: 16}, "store.redis.db"},
		{"LOADING Redis is loading the dataset in memory", config.RedisConfig{}, ""},
		{"OOM command not allowed when used memory > 'maxmemory'.", config.RedisConfig{}, ""},
	} {
		got := ConfigProblem(fmt.Errorf("store: redis get k: %w", replyError(tc.reply)), tc.cfg)
		switch {
		case tc.option == "" && got != nil:
			t.Errorf("%q: %v, want no configuration problem (transient)", tc.reply, got)
		case tc.option != "" && (got == nil || got.Option != tc.option || !strings.Contains(got.Error(), tc.reply)):
			t.Errorf("%q: %v, want a problem with %s quoting the reply", tc.reply, got, tc.option)
		}
	}
	if got := ConfigProblem(&net.OpError{Op: "dial", Err: errors.New("connection refused")}, config.RedisConfig{}); got != nil {
		t.Errorf("a refused connection: %v, want nil (unreachable is no configuration problem)", got)
	}
}
