package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

func TestClientRequestDirectivesAreIgnoredByDefault(t *testing.T) {
	h, _ := counter("max-age=60")
	o := newOrigin(t, h)
	c := newCache(t, o, "")
	c.get(t, "/page")
	for i := range 100 {
		kv := [][]string{
			{"Pragma", "no-cache"},
			{"Cache-Control", "no-cache"},
			{"Cache-Control", "max-age=0"},
			{"Cache-Control", "no-store"},
		}[i%4]
		resp, _ := c.get(t, "/page", kv...)
		if i == 0 {
			wantStatus(t, resp, "hit; ttl=")
			wantStatus(t, resp, "detail=request-directives-ignored")
		}
	}
	if n := o.hits.Load(); n != 1 {
		t.Errorf("100 requests with no-cache, max-age=0, no-store or Pragma: no-cache caused %d origin requests, want 1 (request_directives: ignore)", n)
	}
}

// gatedOrigin answers max-age=60 responses with an ETag, holds
// revalidations (answered 304) until open is closed, and records the most
// requests it had in flight at once.
type gatedOrigin struct {
	*origin
	open           chan struct{}
	inFlight, most atomic.Int64
}

func newGatedOrigin(t *testing.T) *gatedOrigin {
	g := &gatedOrigin{open: make(chan struct{})}
	g.origin = newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		n := g.inFlight.Add(1)
		for m := g.most.Load(); n > m && !g.most.CompareAndSwap(m, n); m = g.most.Load() {
		}
		if r.Header.Get("If-None-Match") != "" {
			<-g.open
		}
		// Out of flight before answering: the proxy may start its next
		// request as soon as it has this answer.
		g.inFlight.Add(-1)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") != "" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "page")
	})
	return g
}

func TestHonouredRevalidationsOfOneKeyCollapseIntoOneConditionalRequest(t *testing.T) {
	o := newGatedOrigin(t)
	c := newCache(t, o.origin, "default_route: {request_directives: honour}\n")
	c.get(t, "/page") // stored
	// Count the requests the proxy has begun serving, so that the origin's
	// answer is held until all of them are in.
	const n = 40
	var entered atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if entered.Add(1) == n {
			close(o.open)
		}
		c.p.ServeHTTP(w, r)
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	before := o.hits.Load()
	var wg sync.WaitGroup
	statuses := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/page", nil)
			req.Header.Set("Cache-Control", "no-cache")
			resp, err := client.Do(req)
			if err != nil {
				statuses[i] = err.Error()
				return
			}
			resp.Body.Close()
			statuses[i] = resp.Header.Get("Cache-Status")
		}()
	}
	wg.Wait()
	if most := o.most.Load(); most != 1 {
		t.Errorf("the origin had %d revalidations of one key in flight at once, want 1 (they collapse)", most)
	}
	if got := o.hits.Load() - before; got > n/2 {
		t.Errorf("%d concurrent no-cache requests cost %d origin requests, want far fewer", n, got)
	}
	for _, s := range statuses {
		if s == "" {
			t.Fatalf("a request failed: %q", statuses)
		}
	}
}
