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
	"github.com/cachegate/cachegate/purge"
)

// urlMarkLifetimes returns, for every URL mark in the purge state of
// prefix, how long from now it is kept: a mark is trimmed MarkHorizon
// after its time, the score of its scope in {prefix}:purge:times
// (purge/state.go, purge.MarkTime).
func urlMarkLifetimes(t *testing.T, prefix string) map[string]time.Duration {
	t.Helper()
	c := testutil.RedisClient(t)
	defer c.Close()
	ctx := context.Background()
	tag := "{" + prefix + "}"
	fields, err := c.HKeys(ctx, tag+":purge:state").Result()
	if err != nil {
		t.Fatalf("reading the purge state: %v", err)
	}
	out := map[string]time.Duration{}
	for _, f := range fields {
		if !strings.HasPrefix(f, "Hu") && !strings.HasPrefix(f, "Su") {
			continue
		}
		scope := f[1:]
		ms, err := c.ZScore(ctx, tag+":purge:times", scope).Result()
		if err != nil {
			t.Fatalf("the time of mark %q: %v", scope, err)
		}
		out[scope] = time.Until(time.UnixMilli(int64(ms)).Add(purge.MarkHorizon))
	}
	return out
}

// shortLived is the most a mark made for a fill in flight may be kept with
// the default origin timeouts: the fill bound (connect 5s + twice
// response_header 60s) plus the proxy's minute of slack, with room.
const shortLived = 10 * time.Minute

// slowOrigin answers POSTs at once and holds every GET under /slow/ until
// release; arrived counts the GETs it holds.
type slowOrigin struct {
	URL     string
	arrived atomic.Int64
	release func()
}

func newSlowOrigin(t *testing.T) *slowOrigin {
	gate := make(chan struct{})
	var once sync.Once
	o := &slowOrigin{release: func() { once.Do(func() { close(gate) }) }}
	var fills atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		n := fills.Add(1)
		if strings.HasPrefix(r.URL.Path, "/slow/") {
			o.arrived.Add(1)
			<-gate
		}
		w.Header().Set("Cache-Control", "max-age=86400")
		fmt.Fprintf(w, "fill %d of %s", n, r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(o.release) // runs first: the held GETs end before the server closes
	o.URL = srv.URL
	return o
}

// waitArrived waits, bounded, until the origin holds n GETs.
func (o *slowOrigin) waitArrived(t *testing.T, n int64) {
	t.Helper()
	testutil.Eventually(t, 20*time.Second, fmt.Sprintf("the origin holds %d fills", n), func() bool { return o.arrived.Load() >= n })
}

// startTieredPair starts two tiered instances before origin on one prefix.
func startTieredPair(t *testing.T, origin string) (a, b *instance, prefix string) {
	prefix = testutil.UniquePrefix(t)
	a = startInstance(t, setup{origin: origin, backend: "tiered", prefix: prefix})
	b = startInstance(t, setup{origin: origin, backend: "tiered", prefix: prefix})
	return a, b, prefix
}

func TestAPostThroughOneInstanceDuringAFillInAnotherIsHonouredByBothWithAShortLivedMark(t *testing.T) {
	o := newSlowOrigin(t)
	a, b, prefix := startTieredPair(t, o.URL)
	const path = "/slow/page"
	done := make(chan *http.Response, 1)
	go func() {
		resp, _ := b.do(http.MethodGet, path, nil)
		done <- resp
	}()
	o.waitArrived(t, 1)
	// The POST comes through the other instance while B's fill waits for
	// the origin: it finds B's fill by its lease in Redis.
	if resp, _ := a.do(http.MethodPost, path, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	o.release()
	fill := <-done
	if got := fill.Header.Get("Cache-Status"); strings.Contains(got, "stored") {
		t.Errorf("B's fill says %q: what it read before the POST must not be stored", got)
	}
	// RFC 9111 §4.4: neither instance serves what B's fill read.
	for i, in := range []*instance{a, b} {
		if _, body := in.do(http.MethodGet, path, nil); body == "fill 1 of "+path {
			t.Errorf("instance %d serves the response a fill read before a POST to its URL", i)
		}
	}
	marks := urlMarkLifetimes(t, prefix)
	if len(marks) != 1 {
		t.Fatalf("URL marks %v, want the POST's one", marks)
	}
	for scope, left := range marks {
		t.Logf("the POST's mark %q is kept %v more", scope, left.Round(time.Second))
		if left > shortLived {
			t.Errorf("the mark of a POST that found only a fill in flight is kept %v more, want at most %v: the fill bound, not the %v horizon", left.Round(time.Second), shortLived, purge.MarkHorizon)
		}
	}
}

func TestHostileSlowGetAndPostPairsOnDistinctURLsLeaveNoLongLivedMarks(t *testing.T) {
	o := newSlowOrigin(t)
	a, b, prefix := startTieredPair(t, o.URL)
	const pairs = 40
	var fills sync.WaitGroup
	for i := range pairs {
		fills.Add(1)
		go func() {
			defer fills.Done()
			b.do(http.MethodGet, fmt.Sprintf("/slow/hostile-%d", i), nil)
		}()
	}
	o.waitArrived(t, pairs)
	for i := range pairs {
		a.do(http.MethodPost, fmt.Sprintf("/slow/hostile-%d", i), nil)
	}
	o.release()
	fills.Wait()
	marks := urlMarkLifetimes(t, prefix)
	long := 0
	for _, left := range marks {
		if left > shortLived {
			long++
		}
	}
	t.Logf("%d slow GET + POST pairs on distinct URLs: %d URL marks in Redis, %d kept longer than %v", pairs, len(marks), long, shortLived)
	if long != 0 {
		t.Errorf("%d slow GET + POST pairs left %d URL marks kept longer than %v (up to the %v horizon), want none", pairs, long, shortLived, purge.MarkHorizon)
	}
	if len(marks) != pairs {
		t.Errorf("%d POSTs during fills of their URLs made %d URL marks, want one each (RFC 9111 §4.4)", pairs, len(marks))
	}
}
