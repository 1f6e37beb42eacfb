package proxy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/store"
)

// markingPurger records the Mark calls of a real purger.
type markingPurger struct {
	purge.Purger
	mu    sync.Mutex
	marks []markCall
	// before, when set, runs before the first Mark reaches the purger.
	before func()
}

type markCall struct {
	scopes []purge.Scope
	until  time.Time
}

func (m *markingPurger) Mark(ctx context.Context, scopes []purge.Scope, until time.Time) error {
	m.mu.Lock()
	m.marks = append(m.marks, markCall{scopes, until})
	before := m.before
	m.before = nil
	m.mu.Unlock()
	if before != nil {
		before()
	}
	return m.Purger.Mark(ctx, scopes, until)
}

func (m *markingPurger) calls() []markCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]markCall(nil), m.marks...)
}

// wantOneKeptFor checks that what (an unsafe request) made one mark,
// kept for about lives (the longest-lived entry it invalidates, named
// by whose) and no more than markSlack twice beyond it.
func (m *markingPurger) wantOneKeptFor(t *testing.T, lives time.Duration, what, whose string) {
	t.Helper()
	calls := m.calls()
	if len(calls) != 1 {
		t.Fatalf("%s made %d marks, want 1", what, len(calls))
	}
	if left := time.Until(calls[0].until); left < lives || left > lives+2*markSlack {
		t.Errorf("the mark is kept %v more, want about %s plus %v", left, whose, markSlack)
	}
}

func recordMarks(c *cache) *markingPurger {
	m := &markingPurger{Purger: c.p.purger}
	c.p.purger = m
	return m
}

func TestUnsafeRequestsMarkOnlyURLsWithAStoredEntryAndOnlyWhileItLives(t *testing.T) {
	h, _ := counter("max-age=60")
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
			return
		}
		h(w, r)
	})
	// stale_if_unreachable off: the entry leaves the store at the end of
	// its freshness.
	c := newCache(t, o, "default_route:\n  stale_if_unreachable: 0s\n")
	marks := recordMarks(c)
	for i := range 200 {
		c.do(t, http.MethodPost, fmt.Sprintf("/never-cached/%d", i))
	}
	if n := len(marks.calls()); n != 0 {
		t.Fatalf("200 POSTs to URLs never cached made %d marks, want none: nothing to invalidate", n)
	}
	c.get(t, "/cached")
	c.do(t, http.MethodPost, "/cached")
	calls := marks.calls()
	if len(calls) != 1 {
		t.Fatalf("a POST to a cached URL made %d marks, want 1 (RFC 9111 §4.4)", len(calls))
	}
	// The entry (max-age=60, no validators) leaves the store a minute
	// after it was received; the mark is kept that long, plus the slack.
	if left := time.Until(calls[0].until); left > 60*time.Second+markSlack || left < markSlack {
		t.Errorf("the mark is kept %v more, want about the entry's remaining minute plus %v", left, markSlack)
	}
	resp, _ := c.get(t, "/cached")
	wantStatus(t, resp, "fwd=miss")
}

// gatedFill is a cache before an origin that answers POSTs at once and
// GETs only once release is called, with the marks the cache makes
// recorded: a fill that a test keeps in flight.
type gatedFill struct {
	c       *cache
	marks   *markingPurger
	release func()
}

func newGatedFill(t *testing.T, cacheControl, body, extra string) *gatedFill {
	gate := make(chan struct{})
	var once sync.Once
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		<-gate
		w.Header().Set("Cache-Control", cacheControl)
		fmt.Fprint(w, body)
	})
	g := &gatedFill{c: newCache(t, o, extra), release: func() { once.Do(func() { close(gate) }) }}
	t.Cleanup(g.release)
	g.marks = recordMarks(g.c)
	return g
}

// key is the cache key of a GET of path.
func (g *gatedFill) key(t *testing.T, path string) policy.Key {
	t.Helper()
	key, _, err := g.c.p.state.Load().cfg.KeyForURL(g.c.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// startFill GETs path in the background and returns once its fill is in
// flight; the response comes on the channel when the fill ends.
func (g *gatedFill) startFill(t *testing.T, path string) <-chan *http.Response {
	t.Helper()
	key := g.key(t, path)
	resp := make(chan *http.Response, 1)
	go func() {
		r, _ := g.c.get(t, path)
		resp <- r
	}()
	testutil.Eventually(t, 5*time.Second, "the fill starts", func() bool { return g.c.p.collapse.Filling(context.Background(), key.ID()) })
	return resp
}

func TestUnsafeRequestDuringAFillInvalidatesWhatTheFillStores(t *testing.T) {
	g := newGatedFill(t, "max-age=60", "filled before the POST", "")
	fill := g.startFill(t, "/slow")
	g.c.do(t, http.MethodPost, "/slow")
	g.release()
	<-fill
	wantMarkForAFill(t, g.c, g.marks.calls())
	resp, _ := g.c.get(t, "/slow")
	// Nothing was stored: the POST's mark need not outlive anything.
	wantStatus(t, resp, "fwd=uri-miss; fwd-status=200")
}

// wantMarkForAFill checks that the only mark is the one of a POST that
// found a fill in flight: kept as long as the fill may still store
// (fillStoreBound, plus the slack), not the whole horizon.
func wantMarkForAFill(t *testing.T, c *cache, calls []markCall) {
	t.Helper()
	bound := fillStoreBound(c.p.state.Load().cfg.OriginTimeouts) + markSlack
	if len(calls) != 1 || time.Until(calls[0].until) > bound {
		t.Fatalf("a POST during a fill made marks %+v, want one kept at most the fill bound %v", calls, bound)
	}
}

func TestAPostDuringAFillMarksOnlyForTheFillBoundAndTheFillDoesNotStore(t *testing.T) {
	g := newGatedFill(t, "max-age=3600", "filled before the POST", "")
	c, marks, key := g.c, g.marks, g.key(t, "/slow")
	fillResp := g.startFill(t, "/slow")
	c.do(t, http.MethodPost, "/slow")
	g.release()
	resp := <-fillResp
	if got := resp.Header.Get("Cache-Status"); strings.Contains(got, "stored") {
		t.Errorf("the fill's response says %q: a fill whose stamp a POST invalidated must not be stored", got)
	}
	wantStatus(t, resp, "detail=purged-during-fill")
	wantMarkForAFill(t, c, marks.calls())
	// The mark goes after the fill bound; what the fill read before the
	// POST must not be in the store to outlive it.
	if e, err := c.p.store.Get(context.Background(), key.ID()); err == nil {
		t.Fatalf("the fill stored %q although a POST invalidated it while it ran", e.Body)
	}
	resp, _ = c.get(t, "/slow")
	wantStatus(t, resp, "fwd=uri-miss; fwd-status=200")
}

func TestAFillThatRunsPastTheFillBoundIsNotStored(t *testing.T) {
	var skew atomic.Int64
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		// The origin takes longer than the bound: the proxy's clock jumps
		// past it while the fill waits.
		skew.Store(int64(fillStoreBound(config.OriginTimeouts{}) + 10*time.Minute))
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprint(w, "too late")
	})
	c := newCache(t, o, "")
	c.p.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	key, _, err := c.p.state.Load().cfg.KeyForURL(c.URL + "/late")
	if err != nil {
		t.Fatal(err)
	}
	resp, body := c.get(t, "/late")
	if body != "too late" {
		t.Errorf("the client got %q, want the origin's response", body)
	}
	if got := resp.Header.Get("Cache-Status"); strings.Contains(got, "stored") {
		t.Errorf("Cache-Status = %q: a fill past the bound must not be stored", got)
	}
	wantStatus(t, resp, "detail=fill-too-slow")
	if _, err := c.p.store.Get(context.Background(), key.ID()); err == nil {
		t.Fatal("a fill that ran past the fill bound was stored: a mark made while it ran may already be gone")
	}
}

func TestVaryMarkerOutlivesItsVariantsAndBoundsTheMarkOfAPost(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Vary", "Accept-Language")
		// The German variant lives ten minutes, the others one.
		if r.Header.Get("Accept-Language") == "de" {
			w.Header().Set("Cache-Control", "max-age=600")
		} else {
			w.Header().Set("Cache-Control", "max-age=60")
		}
		fmt.Fprint(w, "page in ", r.Header.Get("Accept-Language"))
	})
	// stale_if_unreachable off: the variants then leave the store at the
	// end of their freshness.
	c := newCache(t, o, "default_route:\n  stale_if_unreachable: 0s\n")
	marks := recordMarks(c)
	c.get(t, "/varied", "Accept-Language", "de")
	c.get(t, "/varied", "Accept-Language", "fr") // rewrites the marker
	c.do(t, http.MethodPost, "/varied")
	// Kept until the longest-lived variant (de, 600s) leaves the store, and
	// not the whole 30-day horizon.
	marks.wantOneKeptFor(t, 600*time.Second, "a POST to a varied cached URL", "the German variant's 10 minutes")
	for _, lang := range []string{"de", "fr"} {
		resp, _ := c.get(t, "/varied", "Accept-Language", lang)
		wantStatus(t, resp, "fwd=miss")
	}
}

// keyedRoute is a config whose default route keys the X-Tenant header,
// with stale_if_unreachable off: entries then leave the store at the end
// of their freshness.
const keyedRoute = "default_route:\n  stale_if_unreachable: 0s\n  key:\n    headers: [X-Tenant]\n"

// tenantOrigin answers POSTs 204, and GETs with a page for the tenant
// that lives ten minutes for tenant a and one for the others. With
// release, a GET tells arrived and waits for release.
func tenantOrigin(t *testing.T, arrived chan<- struct{}, release <-chan struct{}) *origin {
	return newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if release != nil {
			arrived <- struct{}{}
			<-release
		}
		if r.Header.Get("X-Tenant") == "a" {
			w.Header().Set("Cache-Control", "max-age=600")
		} else {
			w.Header().Set("Cache-Control", "max-age=60")
		}
		fmt.Fprint(w, "page of tenant ", r.Header.Get("X-Tenant"))
	})
}

func TestUnsafeRequestsToNeverCachedURLsOfARouteKeyingHeadersMarkNothing(t *testing.T) {
	c := newCache(t, tenantOrigin(t, nil, nil), keyedRoute)
	marks := recordMarks(c)
	for i := range 200 {
		c.do(t, http.MethodPost, fmt.Sprintf("/api/never-cached/%d", i), "X-Tenant", "a")
	}
	if n := len(marks.calls()); n != 0 {
		t.Fatalf("200 POSTs to URLs never cached on a route keying X-Tenant made %d marks, want none: nothing to invalidate", n)
	}
}

func TestUnsafeRequestOnARouteKeyingHeadersInvalidatesEveryValueUntilTheLongestLives(t *testing.T) {
	c := newCache(t, tenantOrigin(t, nil, nil), keyedRoute)
	marks := recordMarks(c)
	c.get(t, "/api/page", "X-Tenant", "a") // lives ten minutes
	c.get(t, "/api/page", "X-Tenant", "b") // one minute
	// A third tenant, whose own entry was never stored, posts.
	c.do(t, http.MethodPost, "/api/page", "X-Tenant", "c")
	marks.wantOneKeptFor(t, 600*time.Second, "a POST to a URL cached for two tenants (RFC 9111 §4.4)", "tenant a's 10 minutes, not the 30-day horizon")
	for _, tenant := range []string{"a", "b"} {
		resp, body := c.get(t, "/api/page", "X-Tenant", tenant)
		wantStatus(t, resp, "fwd=miss")
		if body != "page of tenant "+tenant {
			t.Errorf("tenant %s got %q", tenant, body)
		}
	}
}

func TestUnsafeRequestDuringAFillOnARouteKeyingHeadersInvalidatesWhatTheFillStores(t *testing.T) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	c := newCache(t, tenantOrigin(t, arrived, release), keyedRoute)
	defer once.Do(func() { close(release) })
	marks := recordMarks(c)
	key, _, err := c.p.state.Load().cfg.KeyForURL(c.URL + "/api/slow")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.get(t, "/api/slow", "X-Tenant", "a")
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the fill never reached the origin")
	}
	// Another tenant posts: its own key is not the one being filled.
	c.do(t, http.MethodPost, "/api/slow", "X-Tenant", "b")
	once.Do(func() { close(release) })
	<-done
	wantMarkForAFill(t, c, marks.calls())
	resp, _ := c.get(t, "/api/slow", "X-Tenant", "a")
	// Nothing was stored: the POST's mark need not outlive anything.
	wantStatus(t, resp, "fwd=uri-miss; fwd-status=200")
	// The handler ends the record just after the client has its response.
	testutil.Eventually(t, 5*time.Second, "the fill is no longer recorded once it ended", func() bool {
		return !c.p.collapse.FillingURL(context.Background(), key.URLID())
	})
}

func TestUnsafeRequestOnARouteKeyingHeadersMarksTheWholeHorizonWhenTheURLRecordWasEvicted(t *testing.T) {
	c := newCache(t, tenantOrigin(t, nil, nil), keyedRoute)
	marks := recordMarks(c)
	c.get(t, "/api/page", "X-Tenant", "a")
	c.get(t, "/api/page", "X-Tenant", "b")
	key, _, err := c.p.state.Load().cfg.KeyForURL(c.URL + "/api/page")
	if err != nil {
		t.Fatal(err)
	}
	// The store dropped the URL record (LRU: the entries are read, the
	// record is not) but kept the entries.
	if err := c.p.store.Delete(context.Background(), key.URLID()); err != nil {
		t.Fatal(err)
	}
	c.do(t, http.MethodPost, "/api/page", "X-Tenant", "a")
	calls := marks.calls()
	if len(calls) != 1 || time.Until(calls[0].until) < purge.MarkHorizon-time.Minute {
		t.Fatalf("a POST whose own entry is stored but whose URL record is gone made marks %+v, want one kept the whole horizon: the other tenants' entries cannot be found", calls)
	}
	resp, _ := c.get(t, "/api/page", "X-Tenant", "b")
	wantStatus(t, resp, "fwd=miss")
}

func TestAFillStoredBetweenAPostsLookupAndItsMarkIsMarkedAsLongAsItLives(t *testing.T) {
	g := newGatedFill(t, "max-age=3600", "stored in the race", "default_route:\n  stale_if_unreachable: 0s\n")
	c, marks, key := g.c, g.marks, g.key(t, "/race")
	// The POST's lookup finds the fill in flight; before its mark lands,
	// the fill ends, verifies its stamp (no mark yet) and stores.
	marks.before = func() {
		g.release()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			if _, err := c.p.store.Get(context.Background(), key.ID()); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Error("the fill never stored")
				return
			}
		}
	}
	fill := g.startFill(t, "/race")
	c.do(t, http.MethodPost, "/race")
	<-fill
	e, err := c.p.store.Get(context.Background(), key.ID())
	if err != nil {
		t.Fatalf("the entry stored in the race: %v", err)
	}
	leaves := storeExpiry(e, c.p.state.Load().cfg.Route(httptest.NewRequest(http.MethodGet, "/race", nil)))
	var longest time.Time
	for _, m := range marks.calls() {
		longest = later(longest, m.until)
	}
	if longest.Before(leaves) {
		t.Fatalf("the marks of the POST are kept until %v, but the entry the fill stored before them leaves the store only at %v: it would be served again", longest, leaves)
	}
	resp, _ := c.get(t, "/race")
	wantStatus(t, resp, "fwd=miss")
}

// purgingStore runs during, before it writes the first entry that is not a
// marker: a purge landing while a fill's entry is being written.
type purgingStore struct {
	store.Store
	once   sync.Once
	during func()
}

func (s *purgingStore) Set(ctx context.Context, key string, e *store.Entry, ttl time.Duration) error {
	if !e.IsMarker() {
		s.once.Do(s.during)
	}
	return s.Store.Set(ctx, key, e, ttl)
}

func TestAFillWhoseEntryAPurgeInvalidatesDuringTheStoreWriteDeletesIt(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprint(w, "read before the purge")
	})
	c := newCache(t, o, "")
	key, _, err := c.p.state.Load().cfg.KeyForURL(c.URL + "/written")
	if err != nil {
		t.Fatal(err)
	}
	// The mark is taken after the check before the write: only the check
	// after it can see it.
	c.p.store = &purgingStore{Store: c.p.store, during: func() {
		if err := c.p.purger.Mark(context.Background(), []purge.Scope{purge.URLScope(key)}, time.Now().Add(time.Minute)); err != nil {
			t.Error(err)
		}
	}}
	resp, _ := c.get(t, "/written")
	if got := resp.Header.Get("Cache-Status"); strings.Contains(got, "stored") {
		t.Errorf("Cache-Status = %q: an entry a mark invalidated during its write must not be kept", got)
	}
	wantStatus(t, resp, "detail=purged-during-fill")
	if _, err := c.p.store.Get(context.Background(), key.ID()); err == nil {
		t.Fatal("the entry is still in the store after the check following its write found it purged: it would outlive a mark kept only the fill bound")
	}
}
