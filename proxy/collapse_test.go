package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachegate/cachegate/collapse"
	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/purge"
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
	if e := c.p.lookup(r, x, nil); e != nil {
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

// storeFailingBurst is the outcome of a burst of misses of one key in one
// proxy on a Redis killed while the burst's fill was at the origin: what
// each client got, and how many requests the origin saw.
type storeFailingBurst struct {
	leader   burstAnswer
	en, fr   []burstAnswer
	requests int64
}

// burstAnswer is what one client of a burst got.
type burstAnswer struct {
	code         int
	body, status string
}

// missBurstWhileRedisFails sends one request of path (Accept-Language:
// en) to a proxy on a Redis of its own, and while the origin holds it,
// en and fr more of the key (varying on Accept-Language); once all of them
// have joined the first one's fill, it kills Redis, runs during (a purge,
// say), and lets the origin answer. The origin answers the language asked
// and the number of the request.
func missBurstWhileRedisFails(t *testing.T, path string, en, fr int, during func(c *cache)) storeFailingBurst {
	t.Helper()
	release := make(chan struct{})
	var first sync.Once
	var o *origin
	o = newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		n := o.hits.Load()
		first.Do(func() {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "Accept-Language")
		fmt.Fprintf(w, "%s %d", r.Header.Get("Accept-Language"), n)
	})
	redis := testutil.OwnRedis(t)
	c := newCacheOnRedis(t, o, redis.Addr(), testutil.UniquePrefix(t))
	key := c.p.classify(httptest.NewRequest(http.MethodGet, c.URL+path, nil), "http").storeID()
	client := &http.Client{Transport: c.transport}
	get := func(lang string, into *burstAnswer, wg *sync.WaitGroup) {
		defer wg.Done()
		req, _ := http.NewRequest(http.MethodGet, c.URL+path, nil)
		req.Header.Set("Accept-Language", lang)
		resp, err := client.Do(req)
		if err != nil {
			into.body = err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		*into = burstAnswer{code: resp.StatusCode, body: string(b), status: resp.Header.Get("Cache-Status")}
	}
	var burst storeFailingBurst
	var wg sync.WaitGroup
	wg.Add(1 + en + fr)
	go get("en", &burst.leader, &wg)
	testutil.Eventually(t, 10*time.Second, "the first request reaches the origin", func() bool { return o.hits.Load() == 1 })
	burst.en, burst.fr = make([]burstAnswer, en), make([]burstAnswer, fr)
	for i := range burst.en {
		go get("en", &burst.en[i], &wg)
	}
	for i := range burst.fr {
		go get("fr", &burst.fr[i], &wg)
	}
	testutil.Eventually(t, 10*time.Second, "every later request joins the first one's fill", func() bool {
		return c.p.collapse.Waiting(key) == en+fr
	})
	redis.Stop()
	if during != nil {
		during(c)
	}
	close(release)
	wg.Wait()
	burst.requests = o.hits.Load()
	return burst
}

// When Redis fails while a fill is at the origin, the fill's store write
// fails; the requests of the same proxy that waited for it must still be
// served its response (README: collapsing still works in the process),
// not each sent to the origin: a burst of hundreds of misses while Redis
// timed out under load reached the origin hundreds of times. Only the
// requests selecting the same variant get it; a purge that came during
// the fill still sends them to the origin.
func TestMissesThatWaitedForAFillWhoseStoreWriteFailedAreServedItsResponseWithoutAskingTheOrigin(t *testing.T) {
	const en, fr = 8, 2
	t.Run("the store write fails", func(t *testing.T) {
		b := missBurstWhileRedisFails(t, "/redis-fails", en, fr, nil)
		if b.requests != 1+fr {
			t.Errorf("origin saw %d requests, want %d: one fill for en, one request for each fr", b.requests, 1+fr)
		}
		if b.leader.code != http.StatusOK || b.leader.body != "en 1" || !strings.Contains(b.leader.status, "detail=store-error") {
			t.Errorf("the fill's client got %d %q with Cache-Status %q, want 200 \"en 1\" and detail=store-error", b.leader.code, b.leader.body, b.leader.status)
		}
		for i, a := range b.en {
			if a.code != http.StatusOK || a.body != "en 1" || !strings.Contains(a.status, "fwd=miss; collapsed") || !strings.Contains(a.status, "detail=store-error") {
				t.Errorf("en waiter %d got %d %q with Cache-Status %q, want 200, the fill's \"en 1\", fwd=miss; collapsed and detail=store-error", i, a.code, a.body, a.status)
			}
		}
		for i, a := range b.fr {
			if a.code != http.StatusOK || !strings.HasPrefix(a.body, "fr ") || strings.Contains(a.status, "collapsed") {
				t.Errorf("fr waiter %d got %d %q with Cache-Status %q, want 200 and a fr body of its own: Vary separates it from the fill's en", i, a.code, a.body, a.status)
			}
		}
	})
	t.Run("a purge came during the fill", func(t *testing.T) {
		b := missBurstWhileRedisFails(t, "/purged", en, fr, func(c *cache) {
			scope := purge.URLScope(c.p.classify(httptest.NewRequest(http.MethodGet, c.URL+"/purged", nil), "http").key)
			if _, err := c.p.purger.Purge(context.Background(), []purge.Scope{scope}, false); err != nil {
				t.Fatal(err)
			}
		})
		if b.requests != 1+en+fr {
			t.Errorf("origin saw %d requests, want %d: every waiter of a purged fill fetches for itself", b.requests, 1+en+fr)
		}
		if !strings.Contains(b.leader.status, "detail="+purgedDuringFill) {
			t.Errorf("the fill's client got Cache-Status %q, want detail=%s", b.leader.status, purgedDuringFill)
		}
		for i, a := range b.en {
			if a.code != http.StatusOK || a.body == "en 1" || strings.Contains(a.status, "collapsed") {
				t.Errorf("en waiter %d got %d %q with Cache-Status %q, want 200 and a response of its own, not the purged fill's", i, a.code, a.body, a.status)
			}
		}
	})
}
