//go:build !race

package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// maxHitAllocs is what a hit from the memory store may allocate, the
// ResponseWriter's header map included (BenchmarkHit; docs/BENCHMARKS.md
// lists each): every allocation a hit makes is paid again by the
// collector, which on a full store of small entries is a quarter of a
// hit's CPU.
const maxHitAllocs = 7

func TestAHitFromTheMemoryStoreAllocatesNoMoreThanItsBudget(t *testing.T) {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, strings.Repeat("x", 1024))
	}))
	defer o.Close()
	c := newCache(t, &origin{Server: o}, "")
	req := httptest.NewRequest(http.MethodGet, "http://site.test/page?b=2&a=1", nil)
	req.Header.Set("Accept-Encoding", "gzip, br")
	w := &nopWriter{h: http.Header{}}
	c.p.ServeHTTP(w, req)
	if !strings.Contains(w.h.Get("Cache-Status"), "stored") {
		t.Fatalf("not stored: %v", w.h)
	}
	allocs := testing.AllocsPerRun(200, func() {
		w.h = make(http.Header, 8)
		c.p.ServeHTTP(w, req)
	})
	if !strings.Contains(w.h.Get("Cache-Status"), "hit") {
		t.Fatalf("not a hit: %v", w.h)
	}
	if allocs > maxHitAllocs {
		t.Errorf("a hit allocates %.0f times, want at most %d", allocs, maxHitAllocs)
	}
}
