package upstream

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
)

// named starts an httptest server answering its name.
func named(t *testing.T, name string) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
	t.Cleanup(s.Close)
	return s.URL
}

// refusing returns the URL of a port nothing listens on.
func refusing(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// backendSet builds a Set of one backend "web" with ups, on a clock the
// test moves.
func backendSet(t *testing.T, now *time.Time, ups ...config.Upstream) *Pool {
	t.Helper()
	b := config.Default()
	b.Origin = ""
	web := config.Backend{Name: "web", Upstreams: ups, Balance: config.BalanceRoundRobin, MaxIdleConns: 4,
		Timeouts: b.OriginTimeouts,
		Passive:  config.PassiveHealth{MaxFails: 1, FailTimeout: config.Duration(10 * time.Second), FailStatuses: []int{503}}}
	b.Backends = []config.Backend{web}
	s, err := New(b, Options{Logger: testutil.DiscardLogger(), Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	s.Start(nil)
	t.Cleanup(s.Close)
	return s.Pool("web")
}

func get(t *testing.T, p *Pool, method string) (string, *Upstream, error) {
	t.Helper()
	r := httptest.NewRequest(method, "http://upstream/x", nil)
	r.RequestURI = ""
	r.Body = nil
	resp, u, err := p.RoundTrip(r, "k")
	if err != nil {
		return "", u, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body), u, nil
}

func TestBackupsServeOnlyWhileEveryPrimaryIsDown(t *testing.T) {
	now := t0
	p := backendSet(t, &now, config.Upstream{URL: named(t, "a"), Weight: 1}, config.Upstream{URL: named(t, "b"), Weight: 1},
		config.Upstream{URL: named(t, "c"), Weight: 1, Backup: true})
	for range 6 {
		if body, _, err := get(t, p, http.MethodGet); err != nil || body == "c" {
			t.Fatalf("with both primaries up, got %q, %v; want a or b", body, err)
		}
	}
	p.primaries[0].health.failed(now)
	if body, _, _ := get(t, p, http.MethodGet); body != "b" {
		t.Errorf("with a down, got %q, want b (not the backup)", body)
	}
	p.primaries[1].health.failed(now)
	if body, _, _ := get(t, p, http.MethodGet); body != "c" {
		t.Errorf("with both primaries down, got %q, want the backup c", body)
	}
	p.backups[0].health.failed(now)
	if _, u, err := get(t, p, http.MethodGet); !errors.Is(err, ErrDown) || u != nil {
		t.Errorf("with everything down, got upstream %v, %v; want ErrDown", u, err)
	}
	now = now.Add(11 * time.Second)
	if body, _, _ := get(t, p, http.MethodGet); body == "c" {
		t.Error("the primaries' cool-down ended, yet the backup still serves")
	}
}

func TestAnIdempotentRequestWhoseConnectionWasRefusedGoesToAnotherUpstreamOnce(t *testing.T) {
	now := t0
	p := backendSet(t, &now, config.Upstream{URL: refusing(t), Weight: 1}, config.Upstream{URL: named(t, "b"), Weight: 1})
	for i := range 4 {
		body, u, err := get(t, p, http.MethodGet)
		if err != nil || body != "b" {
			t.Fatalf("GET %d: %q, %v; want b's answer after a retry", i, body, err)
		}
		if u != p.primaries[1] {
			t.Errorf("GET %d answered by %v, want b", i, u.Label)
		}
	}
	if !p.primaries[1].health.up(now) || p.primaries[0].health.up(now) {
		t.Error("the refusing upstream was not taken out (max_fails 1), or b was")
	}
}

func TestANonIdempotentRequestIsNotRetried(t *testing.T) {
	now := t0
	p := backendSet(t, &now, config.Upstream{URL: refusing(t), Weight: 1}, config.Upstream{URL: named(t, "b"), Weight: 1})
	for range 2 { // round robin: one of the two goes to the refusing upstream
		r := httptest.NewRequest(http.MethodPost, "http://upstream/x", strings.NewReader("x"))
		r.RequestURI = ""
		resp, _, err := p.RoundTrip(r, "")
		if err == nil {
			resp.Body.Close()
			continue
		}
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "dial" {
			t.Errorf("POST failed with %v, want the dial error, not retried", err)
		}
		return
	}
	t.Error("no POST reached the refusing upstream")
}

func TestAFailStatusCountsAsAFailure(t *testing.T) {
	now := t0
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	t.Cleanup(sick.Close)
	p := backendSet(t, &now, config.Upstream{URL: sick.URL, Weight: 1}, config.Upstream{URL: named(t, "b"), Weight: 1})
	get(t, p, http.MethodGet)
	get(t, p, http.MethodGet)
	if p.primaries[0].health.up(now) {
		t.Error("an upstream answering 503 (a fail status) stayed up with max_fails 1")
	}
	if p.primaries[0].InFlight() != 0 || p.primaries[1].InFlight() != 0 {
		t.Error("requests still counted in flight after their bodies were closed")
	}
}

func TestANewSetKeepsTheHealthOfTheUpstreamsItKeeps(t *testing.T) {
	now := t0
	a, b := named(t, "a"), named(t, "b")
	cfg := config.Default()
	cfg.Origin = a
	cfg.Backends = []config.Backend{{Name: "web", Balance: config.BalanceRoundRobin, Timeouts: cfg.OriginTimeouts,
		Upstreams: []config.Upstream{{URL: a, Weight: 1}, {URL: b, Weight: 1}},
		Passive:   config.PassiveHealth{MaxFails: 1, FailTimeout: config.Duration(time.Minute)}}}
	opts := Options{Logger: testutil.DiscardLogger(), Now: func() time.Time { return now }}
	old, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	old.Start(nil)
	old.Pool("web").primaries[1].health.failed(now)
	next, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	next.Start(old)
	t.Cleanup(next.Close)
	if got := next.Status(); len(got) != 2 || got[1] != (Status{Backend: "web", Healthy: 1, Total: 2}) || got[0] != (Status{Backend: "origin", Healthy: 1, Total: 1}) {
		t.Errorf("Status after the reload = %+v, want origin 1/1 and web 1/2 (b still in its cool-down)", got)
	}
}
