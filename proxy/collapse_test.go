package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/collapse"
	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/store"
)

// newCacheOnRedis is a Proxy before o on the Redis at addr under prefix,
// collapsing across the proxies sharing them, as an instance does
// (main's backend wiring without the breaker and the purge marks).
func newCacheOnRedis(t *testing.T, o *origin, addr, prefix string) *cache {
	t.Helper()
	yaml := fmt.Sprintf("origin: %q\nstore:\n  backend: redis\n  redis:\n    addrs: [%q]\n    key_prefix: %q\n", o.URL, addr, prefix)
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := policy.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := store.NewRedis(cfg.Store.Redis)
	if err != nil {
		t.Fatal(err)
	}
	cc := cfg.Cache.Collapse
	group := collapse.New(rs.Client(), rs.Prefix(), collapse.Options{Wait: cc.Wait.D(), HitForPass: cc.HitForPass.D()}, testutil.DiscardLogger())
	p, err := New(rules, Options{Store: rs, Collapse: group, Logger: testutil.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() { srv.Close(); p.Close(); group.Close(); rs.Close() })
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &cache{Server: srv, p: p, transport: tr}
}

// missedLookup is a GET of target to c that has gone through the steps
// of ServeHTTP up to its lookup, which found nothing stored; fetch runs
// the rest (fetchCollapsed) and returns what the client got.
func missedLookup(t *testing.T, c *cache, target string) (fetch func() *httptest.ResponseRecorder) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	x := c.p.classify(r, scheme(r))
	x.ctx.Context = r.Context()
	if e := c.p.lookup(r, x); e != nil {
		t.Fatalf("lookup of %s found an entry before any fill", target)
	}
	return func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		x.client.init(w, x.st.cfg.ClientTimeouts.Write.D(), x.start, c.p.now, c.p.log)
		c.p.fetchCollapsed(&x.client, r, x, nil)
		return w
	}
}

// A request that misses, and reaches collapse.Do only after the fill of
// another request has stored the entry and ended (its flight gone here,
// its lease released in Redis), must not lead a second fill: it takes
// the lead with nobody to wait for, reads the store again under it, and
// serves what was stored. Without that read, a burst of misses on a busy
// machine reached the origin twice.
func TestAMissThatTakesTheLeadAfterAnotherFillStoredTheEntryServesItWithoutAskingTheOrigin(t *testing.T) {
	h, n := counter("max-age=600")
	o := newOrigin(t, h)
	redis := testutil.OwnRedis(t)
	prefix := testutil.UniquePrefix(t)
	cases := []struct {
		name string
		// filler is the proxy whose fill ends while the late request is
		// between its lookup and collapse.Do on late.
		filler, late *cache
	}{
		{"in process", nil, nil},
		{"across instances sharing Redis", nil, nil},
	}
	one := newCacheOnRedis(t, o, redis.Addr(), prefix)
	cases[0].filler, cases[0].late = one, one
	cases[1].filler, cases[1].late = one, newCacheOnRedis(t, o, redis.Addr(), prefix)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := fmt.Sprintf("/late/%d", i)
			before := n.Load()
			// The host keys the entry: the late request names the filler's.
			fetch := missedLookup(t, tc.late, tc.filler.URL+path)
			_, body := tc.filler.get(t, path)
			if got := n.Load() - before; got != 1 {
				t.Fatalf("the first fill of %s: origin saw %d requests, want 1", path, got)
			}
			w := fetch()
			if got := n.Load() - before; got != 1 {
				t.Errorf("origin saw %d requests for %s, want 1: the late request fetched what the first fill had just stored", got, path)
			}
			if w.Code != http.StatusOK || w.Body.String() != body {
				t.Errorf("late request got %d %q, want 200 and the stored %q", w.Code, w.Body.String(), body)
			}
			if cs := w.Header().Get("Cache-Status"); !strings.Contains(cs, "collapsed") {
				t.Errorf("late request's Cache-Status = %q, want it to say it was served by another's fill (collapsed)", cs)
			}
		})
	}
}
