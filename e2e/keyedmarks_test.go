package e2e

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

	"github.com/cachegate/cachegate/internal/testutil"
)

// tenantKeyed is a config whose routes key the X-Tenant request header,
// as config.example.yaml's /api/ and tenant routes do.
const tenantKeyed = "default_route:\n  key:\n    headers: [X-Tenant]\n"

// urlMarks counts the URL purge marks (hard and soft) in the purge state
// of prefix: the hash {prefix}:purge:state, one field per mark, "H" or
// "S" then the scope, whose kind byte is 'u' for a URL (purge/state.go).
func urlMarks(t *testing.T, prefix string) int {
	t.Helper()
	c := testutil.RedisClient(t)
	defer c.Close()
	fields, err := c.HKeys(context.Background(), "{"+prefix+"}:purge:state").Result()
	if err != nil {
		t.Fatalf("reading the purge state: %v", err)
	}
	n := 0
	for _, f := range fields {
		if strings.HasPrefix(f, "Hu") || strings.HasPrefix(f, "Su") {
			n++
		}
	}
	return n
}

func TestHostilePostsToDistinctURLsOfARouteKeyingHeadersLeaveNoPurgeMarks(t *testing.T) {
	o := startOrigin(t)
	prefix := testutil.UniquePrefix(t)
	in := startInstance(t, setup{origin: o.URL, backend: "tiered", prefix: prefix, extra: tenantKeyed})
	// The check below must be able to see a mark: a POST to a cached URL
	// makes one.
	tenant := http.Header{"X-Tenant": {"a"}}
	in.do(http.MethodGet, "/max-age/600/cached", tenant)
	in.do(http.MethodPost, "/max-age/600/cached", http.Header{"X-Tenant": {"b"}})
	before := urlMarks(t, prefix)
	if before != 1 {
		t.Fatalf("a POST to a URL cached on a route keying X-Tenant left %d URL marks, want 1 (RFC 9111 §4.4)", before)
	}
	posts := hostileLoad(in, 2*time.Second, func(n int64) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/max-age/600/hostile-%d", in.URL, n), strings.NewReader("form=1"))
		req.Host = siteHost
		req.Header.Set("X-Tenant", fmt.Sprint(n%7))
		return req
	})
	after := urlMarks(t, prefix)
	t.Logf("%d POSTs to distinct URLs never cached on a route keying X-Tenant: URL marks in Redis %d before, %d after", posts, before, after)
	if after != before {
		t.Errorf("%d POSTs to distinct URLs never cached left %d more URL marks in Redis, want none: nothing to invalidate", posts, after-before)
	}
}

func TestAPostThroughOneInstanceInvalidatesEveryValueOfAKeyedURLOnBoth(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := startOrigin(t)
	prefix := testutil.UniquePrefix(t)
	var ins []*instance
	for range 2 {
		ins = append(ins, startInstance(t, setup{origin: o.URL, backend: "tiered", prefix: prefix, extra: tenantKeyed}))
	}
	const path = "/max-age/600/account"
	tenants := []string{"a", "b"}
	// Each instance holds each tenant's entry, in L1 too (admitted at its
	// second request).
	before := map[string]string{}
	for _, in := range ins {
		for _, tenant := range tenants {
			h := http.Header{"X-Tenant": {tenant}}
			in.do(http.MethodGet, path, h)
			resp, body := in.do(http.MethodGet, path, h)
			if !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
				t.Fatalf("before the POST, tenant %s: Cache-Status %q, want a hit", tenant, resp.Header.Get("Cache-Status"))
			}
			before[tenant] = body
		}
	}
	// A third tenant, whose own entry was never stored, posts.
	if resp, _ := ins[0].do(http.MethodPost, path, http.Header{"X-Tenant": {"c"}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	// RFC 9111 §4.4: no instance serves an entry of the URL stored before
	// the POST, whatever its tenant. The mark reaches the other instance
	// by pub/sub: poll, bounded.
	for i, in := range ins {
		for _, tenant := range tenants {
			testutil.Eventually(t, 5*time.Second, fmt.Sprintf("instance %d stops serving tenant %s the entry stored before a POST to its URL", i, tenant), func() bool {
				_, body := in.do(http.MethodGet, path, http.Header{"X-Tenant": {tenant}})
				return body != before[tenant]
			})
		}
	}
	if n := urlMarks(t, prefix); n != 1 {
		t.Errorf("the POST left %d URL marks, want 1", n)
	}
}

func TestAPostThroughOneInstanceDuringAKeyedFillInAnotherInvalidatesWhatItStores(t *testing.T) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	var fills atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		n := fills.Add(1)
		if n == 1 {
			arrived <- struct{}{}
			<-release
		}
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "fill %d for tenant %s", n, r.Header.Get("X-Tenant"))
	}))
	defer srv.Close()
	var released sync.Once
	defer released.Do(func() { close(release) })
	prefix := testutil.UniquePrefix(t)
	a := startInstance(t, setup{origin: srv.URL, backend: "tiered", prefix: prefix, extra: tenantKeyed})
	b := startInstance(t, setup{origin: srv.URL, backend: "tiered", prefix: prefix, extra: tenantKeyed})
	const path = "/account"
	tenant := http.Header{"X-Tenant": {"a"}}
	done := make(chan string)
	go func() {
		_, body := a.do(http.MethodGet, path, tenant)
		done <- body
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the fill never reached the origin")
	}
	// Another tenant posts through the other instance while the fill runs.
	if resp, _ := b.do(http.MethodPost, path, http.Header{"X-Tenant": {"b"}}); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	released.Do(func() { close(release) })
	if body := <-done; body != "fill 1 for tenant a" {
		t.Fatalf("the fill answered %q", body)
	}
	// RFC 9111 §4.4: the fill started before the POST; neither instance
	// serves what it stored.
	for i, in := range []*instance{a, b} {
		testutil.Eventually(t, 5*time.Second, fmt.Sprintf("instance %d stops serving the entry a fill stored after a POST to its URL that came during the fill", i), func() bool {
			_, body := in.do(http.MethodGet, path, tenant)
			return body != "fill 1 for tenant a"
		})
	}
}
