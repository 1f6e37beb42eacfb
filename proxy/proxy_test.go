package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/metrics"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/store"
)

// origin is a test origin whose handler a test sets; it records the
// requests it receives.
type origin struct {
	*httptest.Server
	mu       sync.Mutex
	handler  http.HandlerFunc
	requests []*http.Request
	hits     atomic.Int64
}

func newOrigin(t *testing.T, h http.HandlerFunc) *origin {
	o := &origin{handler: h}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		o.mu.Lock()
		o.requests = append(o.requests, r.Clone(r.Context()))
		o.mu.Unlock()
		o.handler(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *origin) last() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.requests[len(o.requests)-1]
}

// cache is a Proxy on a memory store before o, served by httptest.
type cache struct {
	*httptest.Server
	p *Proxy
	// transport adds no Accept-Encoding of its own.
	transport *http.Transport
	// lane serves the Listener's connections first (Start).
	lane *HitLane
}

// Start starts the server behind a hit lane on its Listener, a
// WireListener (or a test's wrapping of it).
func (c *cache) Start() {
	c.lane = NewHitLane(c.p, c.Listener, c.Config)
	c.Listener = c.lane.Listener()
	c.Server.Start()
}

func newCache(t *testing.T, o *origin, extra string) *cache {
	t.Helper()
	return newCacheWith(t, o, extra, Options{})
}

// newCacheWith is newCache with opts (its Store and Logger default to
// newCache's).
func newCacheWith(t *testing.T, o *origin, extra string, opts Options) *cache {
	t.Helper()
	c := newCacheUnstarted(t, o, extra, opts)
	c.Start()
	return c
}

// newCacheUnstarted is newCacheWith before its server starts, on a
// WireListener like the proxy listener of cachegate serve (Start adds the
// hit lane).
func newCacheUnstarted(t *testing.T, o *origin, extra string, opts Options) *cache {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(fmt.Sprintf("origin: %q\n%s", o.URL, extra)))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := policy.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Store == nil {
		opts.Store = store.NewMemory(64 << 20)
	}
	if opts.Logger == nil {
		opts.Logger = testutil.DiscardLogger()
	}
	p, err := New(rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(p)
	srv.Listener = WireListener(srv.Listener)
	srv.Config.ConnContext = ConnContext
	tr := &http.Transport{DisableCompression: true}
	c := &cache{Server: srv, p: p, transport: tr}
	t.Cleanup(func() {
		if c.lane != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c.lane.Shutdown(ctx)
		}
		srv.Close()
		p.Close()
	})
	t.Cleanup(tr.CloseIdleConnections)
	return c
}

func (c *cache) do(t *testing.T, method, path string, kv ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, c.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	resp, err := c.transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *cache) get(t *testing.T, path string, kv ...string) (*http.Response, string) {
	t.Helper()
	return c.do(t, http.MethodGet, path, kv...)
}

func wantStatus(t *testing.T, resp *http.Response, want string) {
	t.Helper()
	if got := resp.Header.Get("Cache-Status"); !strings.Contains(got, want) {
		t.Errorf("Cache-Status = %q, want it to contain %q", got, want)
	}
}

func counter(cc string) (http.HandlerFunc, *atomic.Int64) {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", cc)
		fmt.Fprintf(w, "body %d", n.Add(1))
	}, &n
}

func TestFreshHitCarriesAgeAndCacheStatus(t *testing.T) {
	h, _ := counter("max-age=60")
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Age", "10")
		h(w, r)
	})
	c := newCache(t, o, "")
	resp, _ := c.get(t, "/a")
	wantStatus(t, resp, "fwd=uri-miss; fwd-status=200; stored; ttl=")
	resp, body := c.get(t, "/a")
	wantStatus(t, resp, "cachegate; hit; ttl=")
	if body != "body 1" || o.hits.Load() != 1 {
		t.Fatalf("second GET: body %q after %d origin requests, want the stored body after 1", body, o.hits.Load())
	}
	if age, err := strconv.Atoi(resp.Header.Get("Age")); err != nil || age < 10 {
		t.Errorf("RFC 9111 §4.2.3 Age = %q, want at least the origin's 10", resp.Header.Get("Age"))
	}
	if !strings.Contains(resp.Header.Get("Via"), "cachegate") {
		t.Errorf("RFC 9110 §7.6.3 Via = %q, want cachegate in it", resp.Header.Get("Via"))
	}
}

func TestHeadIsAnsweredFromAGetAndNeverPoisonsIt(t *testing.T) {
	h, _ := counter("max-age=60")
	o := newOrigin(t, h)
	c := newCache(t, o, "")
	resp, body := c.do(t, http.MethodHead, "/h")
	if body != "" || resp.StatusCode != 200 {
		t.Fatalf("HEAD: %d %q, want 200 without body", resp.StatusCode, body)
	}
	if o.last().Method != http.MethodGet {
		t.Errorf("origin saw %s, want GET (the stored response must serve GETs)", o.last().Method)
	}
	_, body = c.get(t, "/h")
	if body != "body 1" {
		t.Errorf("GET after HEAD: body %q, want the full stored body", body)
	}
}

func TestVariantsAreStoredSideBySide(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		fmt.Fprintf(w, "lang %s", r.Header.Get("Accept-Language"))
	})
	c := newCache(t, o, "")
	for _, lang := range []string{"en", "de", "en", "de", "en, fr", "en ,fr"} {
		_, body := c.get(t, "/v", "Accept-Language", lang)
		// The origin is asked in the normalized form the variant is keyed by.
		if want := "lang " + strings.ReplaceAll(lang, " ", ""); body != want {
			t.Errorf("Accept-Language %q: body %q, want %q", lang, body, want)
		}
	}
	if n := o.hits.Load(); n != 3 {
		t.Errorf("RFC 9111 §4.1: origin saw %d requests, want 3 (en, de, en,fr; whitespace normalized)", n)
	}
}

func TestVaryStarIsNeverServedFromCache(t *testing.T) {
	h, _ := counter("max-age=60")
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "*")
		h(w, r)
	})
	c := newCache(t, o, "")
	c.get(t, "/star")
	c.get(t, "/star")
	if n := o.hits.Load(); n != 2 {
		t.Errorf("RFC 9111 §4.1: origin saw %d requests, want 2 (Vary: * never matches)", n)
	}
}

func TestConditionalRequestsAreAnsweredFromCache(t *testing.T) {
	lm := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", lm)
		io.WriteString(w, "content")
	})
	c := newCache(t, o, "")
	c.get(t, "/c")
	resp, body := c.get(t, "/c", "If-None-Match", `W/"v1"`)
	if resp.StatusCode != 304 || body != "" {
		t.Errorf("RFC 9110 §13.1.2 weak If-None-Match: %d %q, want 304 without body", resp.StatusCode, body)
	}
	resp, _ = c.get(t, "/c", "If-Modified-Since", lm)
	if resp.StatusCode != 304 {
		t.Errorf("RFC 9110 §13.1.3 If-Modified-Since: %d, want 304", resp.StatusCode)
	}
	resp, _ = c.get(t, "/c", "If-None-Match", `"v2"`)
	if resp.StatusCode != 200 {
		t.Errorf("non-matching If-None-Match: %d, want 200", resp.StatusCode)
	}
	if n := o.hits.Load(); n != 1 {
		t.Errorf("origin saw %d requests, want 1", n)
	}
}

func TestStaleEntryIsRevalidatedAndA304UpdatesIt(t *testing.T) {
	var n atomic.Int64
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if n.Add(1) == 1 {
			w.Header().Set("Cache-Control", "max-age=0")
			w.Header().Set("X-Version", "1")
			io.WriteString(w, "original")
			return
		}
		if r.Header.Get("If-None-Match") != `"v1"` {
			t.Errorf("RFC 9111 §4.3.1: revalidation sent If-None-Match %q, want the stored ETag", r.Header.Get("If-None-Match"))
		}
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("X-Version", "2")
		w.WriteHeader(http.StatusNotModified)
	})
	c := newCache(t, o, "")
	c.get(t, "/r")
	resp, body := c.get(t, "/r")
	if body != "original" || resp.StatusCode != 200 || resp.Header.Get("X-Version") != "2" {
		t.Fatalf("after 304: %d %q X-Version %q, want 200 with the stored body and the 304's header", resp.StatusCode, body, resp.Header.Get("X-Version"))
	}
	resp, body = c.get(t, "/r")
	wantStatus(t, resp, "hit")
	if body != "original" || o.hits.Load() != 2 {
		t.Errorf("RFC 9111 §4.3.4: after the 304 the entry should be fresh: body %q, origin requests %d", body, o.hits.Load())
	}
}

func TestRangeIsAnsweredFromTheStoredFullResponse(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			t.Error("the origin was asked for a range; the cache should fetch the whole")
		}
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "0123456789")
	})
	c := newCache(t, o, "")
	c.get(t, "/range")
	resp, body := c.get(t, "/range", "Range", "bytes=2-4")
	if resp.StatusCode != 206 || body != "234" || resp.Header.Get("Content-Range") != "bytes 2-4/10" {
		t.Errorf("RFC 9110 §14.2: %d %q %q, want 206 \"234\" bytes 2-4/10", resp.StatusCode, body, resp.Header.Get("Content-Range"))
	}
	resp, body = c.get(t, "/range")
	if resp.StatusCode != 200 || body != "0123456789" {
		t.Errorf("full GET after a range: %d %q, want the whole", resp.StatusCode, body)
	}
}

func TestPartialResponseIsNeverStoredAsWhole(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Range", "bytes 0-1/10")
		w.WriteHeader(http.StatusPartialContent)
		io.WriteString(w, "01")
	})
	c := newCache(t, o, "")
	c.get(t, "/p")
	resp, _ := c.get(t, "/p")
	if o.hits.Load() != 2 {
		t.Errorf("RFC 9111 §3.3: a 206 was stored (origin requests %d, Cache-Status %q)", o.hits.Load(), resp.Header.Get("Cache-Status"))
	}
}

func TestRequestDirectives(t *testing.T) {
	h, _ := counter("max-age=60")
	o := newOrigin(t, h)
	c := newCache(t, o, "default_route: {request_directives: honour}\n")
	resp, _ := c.get(t, "/rd", "Cache-Control", "only-if-cached")
	if resp.StatusCode != 504 {
		t.Errorf("RFC 9111 §5.2.1.7 only-if-cached on a miss: %d, want 504", resp.StatusCode)
	}
	c.get(t, "/rd")
	c.get(t, "/rd", "Cache-Control", "no-cache")
	if o.hits.Load() != 2 {
		t.Errorf("RFC 9111 §5.2.1.4 no-cache: origin requests %d, want 2", o.hits.Load())
	}
	c.get(t, "/rd", "Pragma", "no-cache")
	if o.hits.Load() != 3 {
		t.Errorf("RFC 9111 §5.4 Pragma: no-cache: origin requests %d, want 3", o.hits.Load())
	}
	c.get(t, "/rd", "Cache-Control", "max-age=0")
	if o.hits.Load() != 4 {
		t.Errorf("RFC 9111 §5.2.1.1 max-age=0: origin requests %d, want 4", o.hits.Load())
	}
}

// refetchedAfterAPOST GETs paths (storing them), POSTs to post, GETs paths
// again and returns how many of those reached the origin.
func refetchedAfterAPOST(t *testing.T, c *cache, o *origin, post string, paths ...string) int64 {
	t.Helper()
	for _, p := range paths {
		c.get(t, p)
	}
	c.do(t, http.MethodPost, post)
	before := o.hits.Load()
	for _, p := range paths {
		c.get(t, p)
	}
	return o.hits.Load() - before
}

func TestAnUnsafeRequestInvalidatesItsTargetAndWhatItsAnswerNames(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answer  string // field of the POST's answer, "Name: value"
		post    string
		paths   []string
		want    int64
		wantWhy string
	}{
		{"its target and the answer's Location", "Location: /other", "/target", []string{"/target", "/other", "/untouched"}, 2,
			"RFC 9111 §4.4: want 2 (target and Location)"},
		{"its target only, when the Location is no http URI", "Location: mailto:webmaster@example.com", "/target", []string{"/target", "/", "/mailto:webmaster@example.com", "/webmaster@example.com"}, 1,
			"RFC 9111 §4.4: want 1 (the target; a mailto: URI is not of the same origin)"},
		{"the members of a group the answer invalidates", `Cache-Group-Invalidation: "scripts"`, "/deploy", []string{"/js/a", "/js/b", "/css/c"}, 2,
			"RFC 9875 §3: want 2 (/js/a and /js/b, of group scripts)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := counter("max-age=60")
			name, value, _ := strings.Cut(tc.answer, ": ")
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					w.Header().Set(name, value)
					w.WriteHeader(http.StatusCreated)
					return
				}
				if strings.HasPrefix(r.URL.Path, "/js/") {
					w.Header().Set("Cache-Groups", `"scripts", "assets"`)
				}
				h(w, r)
			})
			c := newCache(t, o, "")
			if got := refetchedAfterAPOST(t, c, o, tc.post, tc.paths...); got != tc.want {
				t.Errorf("%d origin requests after the POST; %s", got, tc.wantWhy)
			}
		})
	}
}

func TestUnkeyedHeadersCannotPoisonTheCache(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "host=%s override=%s original=%s", r.Header.Get("X-Forwarded-Host"),
			r.Header.Get("X-HTTP-Method-Override"), r.Header.Get("X-Original-URL"))
	})
	c := newCache(t, o, "")
	_, body := c.get(t, "/poison", "X-Forwarded-Host", "evil.example", "X-HTTP-Method-Override", "DELETE", "X-Original-URL", "/admin")
	if strings.Contains(body, "evil") || strings.Contains(body, "DELETE") || strings.Contains(body, "/admin") {
		t.Errorf("an unkeyed header reached the origin and the stored body: %q", body)
	}
}

func TestHopByHopFieldsAreRemoved(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Hop") != "" || r.Header.Get("Keep-Alive") != "" {
			t.Errorf("RFC 9110 §7.6.1: hop-by-hop request fields forwarded: %v", r.Header)
		}
		w.Header().Set("Connection", "X-Secret-Hop")
		w.Header().Set("X-Secret-Hop", "1")
		w.Header().Set("Cache-Control", "max-age=60")
	})
	c := newCache(t, o, "")
	for range 2 {
		resp, _ := c.get(t, "/hop", "Connection", "X-Hop", "X-Hop", "1", "Keep-Alive", "timeout=5")
		if resp.Header.Get("X-Secret-Hop") != "" {
			t.Errorf("RFC 9110 §7.6.1: a Connection-listed response field reached the client")
		}
	}
}

func TestAcceptEncodingIsNormalizedAndEncodingKept(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Encoding")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			io.WriteString(w, "pretend-gzip")
			return
		}
		io.WriteString(w, "plain")
	})
	c := newCache(t, o, "")
	_, a := c.get(t, "/ae", "Accept-Encoding", "gzip, deflate, br, zstd")
	resp, b := c.get(t, "/ae", "Accept-Encoding", "br, gzip, zstd, deflate")
	if a != "pretend-gzip" || b != a || resp.Header.Get("Content-Encoding") != "gzip" || o.hits.Load() != 1 {
		t.Errorf("bodies %q %q, encoding %q, origin requests %d: want one gzip variant shared by both browsers",
			a, b, resp.Header.Get("Content-Encoding"), o.hits.Load())
	}
	_, plain := c.get(t, "/ae")
	if plain != "plain" {
		t.Errorf("a client without Accept-Encoding got %q, want the identity variant", plain)
	}
}

func TestTruncatedBodyIsNeverStored(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "only part")
		// The handler returns early: the server closes the connection.
	})
	c := newCache(t, o, "")
	for range 2 {
		// The client sees the cut too: an error, or a short body.
		if resp, err := http.Get(c.URL + "/cut"); err == nil {
			io.ReadAll(resp.Body)
			resp.Body.Close()
		}
	}
	if o.hits.Load() != 2 {
		t.Errorf("a body cut off by the origin was stored (origin requests %d, want 2)", o.hits.Load())
	}
}

func TestLargeObjectStreamsThroughUnstored(t *testing.T) {
	big := strings.Repeat("x", 2<<20)
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, big)
	})
	c := newCache(t, o, "cache: {max_object_bytes: 1MiB}\n")
	_, body := c.get(t, "/big")
	_, body2 := c.get(t, "/big")
	if body != big || body2 != big || o.hits.Load() != 2 {
		t.Errorf("large object: lengths %d %d, origin requests %d; want the whole body twice and 2 origin requests", len(body), len(body2), o.hits.Load())
	}
}

func TestStaleIfErrorServesStaleOn5xx(t *testing.T) {
	var fail atomic.Bool
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "origin broke")
			return
		}
		w.Header().Set("Cache-Control", "max-age=0, stale-if-error=60")
		w.Header().Set("ETag", `"x"`)
		io.WriteString(w, "good")
	})
	c := newCache(t, o, "")
	c.get(t, "/sie")
	fail.Store(true)
	resp, body := c.get(t, "/sie")
	if resp.StatusCode != 200 || body != "good" {
		t.Errorf("RFC 5861 §4: %d %q, want the stale 200", resp.StatusCode, body)
	}
	wantStatus(t, resp, "detail=stale-if-error")
}

// disconnectingOrigin answers its first request with cc and then closes
// every connection without answering, as an origin that went away.
func disconnectingOrigin(t *testing.T, cc string) *origin {
	var gone atomic.Bool
	return newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if gone.Swap(true) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Header().Set("Cache-Control", cc)
		w.Header().Set("ETag", `"x"`)
		io.WriteString(w, "good")
	})
}

func TestAnUnreachableOriginGetsItsStaleEntryServed(t *testing.T) {
	c := newCache(t, disconnectingOrigin(t, "max-age=0"), "")
	c.get(t, "/gone")
	resp, body := c.get(t, "/gone")
	if resp.StatusCode != 200 || body != "good" {
		t.Errorf("RFC 9111 §4.2.4: a disconnected cache may serve stale; got %d %q, want the stale 200", resp.StatusCode, body)
	}
	wantStatus(t, resp, "detail=origin-unreachable")
}

func TestAnUnreachableOriginNeverGetsAStaleEntryServedThatForbidsIt(t *testing.T) {
	for _, cc := range []string{"max-age=0, must-revalidate", "max-age=0, proxy-revalidate", "no-cache", "s-maxage=0"} {
		t.Run(cc, func(t *testing.T) {
			c := newCache(t, disconnectingOrigin(t, cc), "")
			c.get(t, "/gone")
			resp, body := c.get(t, "/gone")
			if resp.StatusCode != http.StatusBadGateway || body == "good" {
				t.Errorf("RFC 9111 §5.2.2 %q forbids serving stale even when disconnected; got %d %q, want 502", cc, resp.StatusCode, body)
			}
		})
	}
}

func TestStaleIfUnreachableZeroTurnsItOff(t *testing.T) {
	c := newCache(t, disconnectingOrigin(t, "max-age=0"), "default_route:\n  stale_if_unreachable: 0s\n")
	c.get(t, "/gone")
	if resp, _ := c.get(t, "/gone"); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("stale_if_unreachable: 0s: got %d, want 502", resp.StatusCode)
	}
}

// swrOrigin answers its first request stale at once (Age 5 over max-age=1)
// within a stale-while-revalidate window, and every later one fresh for an
// hour, after release is closed. Each body names the request that made it
// (v1, v2...). The later responses stay fresh long enough that no second
// refresh is due while a test runs: with max-age=1 the origin's Date
// (whole seconds) can make a response stale, or due for an early refresh,
// the moment it is stored (RFC 9111 §4.2.3 apparent_age).
func swrOrigin(t *testing.T, release <-chan struct{}) (*origin, *atomic.Int64) {
	var n atomic.Int64
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		k := n.Add(1)
		if k == 1 {
			w.Header().Set("Age", "5")
			w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=60")
		} else {
			<-release
			w.Header().Set("Cache-Control", "max-age=3600")
		}
		fmt.Fprintf(w, "v%d", k)
	})
	return o, &n
}

func TestStaleWhileRevalidateServesAtOnceAndRefreshesOnce(t *testing.T) {
	release := make(chan struct{})
	o, n := swrOrigin(t, release)
	c := newCache(t, o, "")
	c.get(t, "/swr")
	for range 5 {
		resp, body := c.get(t, "/swr")
		if body != "v1" {
			t.Fatalf("RFC 5861 §3: body %q, want the stale v1 at once", body)
		}
		wantStatus(t, resp, "hit")
	}
	close(release)
	testutil.Eventually(t, 5*time.Second, "the background refresh stores v2", func() bool {
		_, body := c.get(t, "/swr")
		return body == "v2"
	})
	c.p.refreshes.Wait()
	if got := n.Load(); got != 2 {
		t.Errorf("origin saw %d requests, want 2 (one background refresh for five stale hits)", got)
	}
}

func TestARequestThatReadTheStaleEntryBeforeARefreshReplacedItStartsNoSecondRefresh(t *testing.T) {
	release := make(chan struct{})
	close(release)
	o, n := swrOrigin(t, release)
	c := newCache(t, o, "")
	c.get(t, "/swr")
	// A request reads the stale v1...
	r := httptest.NewRequest(http.MethodGet, c.URL+"/swr", nil)
	x := c.p.classify(r, scheme(r))
	stale := c.p.lookup(r, x, nil)
	if stale == nil {
		t.Fatal("the stale v1 was not found")
	}
	// ...another request's refresh replaces it and ends...
	c.get(t, "/swr")
	c.p.refreshes.Wait()
	// ...and only then does the first request start its refresh.
	c.p.refresh(r, x, stale, metrics.RefreshBackground)
	c.p.refreshes.Wait()
	if got := n.Load(); got != 2 {
		t.Errorf("origin saw %d requests, want 2 (v2 was stored after this request read v1: nothing left to refresh)", got)
	}
}

func TestInternalFieldsDoNotReachClients(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Surrogate-Key", "a b")
		w.Header().Set("Cache-Tag", "c")
		w.Header().Set("Cachegate-Cache-Control", "max-age=30")
		w.Header().Set("CDN-Cache-Control", "max-age=40")
	})
	for _, tc := range []struct {
		name, extra string
		cdn         bool
	}{
		{"defaults", "", true},
		{"CDN-Cache-Control stripped by configuration", "cache: {strip_response_fields: [CDN-Cache-Control]}\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCache(t, o, tc.extra)
			for range 2 {
				resp, _ := c.get(t, "/internal")
				if resp.Header.Get("Surrogate-Key") != "" || resp.Header.Get("Cache-Tag") != "" {
					t.Errorf("purge tags reached the client: %v", resp.Header)
				}
				if resp.Header.Get("Cachegate-Cache-Control") != "" {
					t.Errorf("RFC 9213 §2.2: cachegate's own targeted field reached the client")
				}
				if got := resp.Header.Get("CDN-Cache-Control") != ""; got != tc.cdn {
					t.Errorf("CDN-Cache-Control forwarded = %v, want %v", got, tc.cdn)
				}
				wantStatus(t, resp, "ttl=")
			}
		})
	}
}

func TestSetCookieRouteModes(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Set-Cookie", "session=secret")
		io.WriteString(w, "page")
	})
	c := newCache(t, o, "default_route: {set_cookie: strip}\n")
	first, _ := c.get(t, "/sc")
	second, body := c.get(t, "/sc")
	if first.Header.Get("Set-Cookie") == "" {
		t.Error("the client that caused the fill lost its Set-Cookie")
	}
	if second.Header.Get("Set-Cookie") != "" || body != "page" || o.hits.Load() != 1 {
		t.Errorf("set_cookie strip: second response Set-Cookie %q, body %q, origin requests %d; want a hit without the cookie",
			second.Header.Get("Set-Cookie"), body, o.hits.Load())
	}
}

func TestWarmFetchesURLsAndSitemapsThroughTheCache(t *testing.T) {
	h, _ := counter("max-age=600")
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sitemap.xml":
			fmt.Fprintf(w, `<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>%s/posts.xml</loc></sitemap></sitemapindex>`, "http://site.test")
		case "/posts.xml":
			fmt.Fprint(w, `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc> http://site.test/p/1 </loc></url><url><loc>http://site.test/p/2</loc></url></urlset>`)
		default:
			h(w, r)
		}
	})
	c := newCache(t, o, `warm:
  urls: [http://site.test/home]
  sitemaps: [http://site.test/sitemap.xml]
  concurrency: 2
`)
	var results []string
	var mu sync.Mutex
	c.p.WarmOnce(t.Context(), func(r string) { mu.Lock(); results = append(results, r); mu.Unlock() })
	if len(results) != 3 {
		t.Fatalf("warm results %v, want 3 fetches (home and the sitemap's two URLs)", results)
	}
	before := o.hits.Load()
	for _, p := range []string{"/home", "/p/1", "/p/2"} {
		req, _ := http.NewRequest(http.MethodGet, c.URL+p, nil)
		req.Host = "site.test"
		resp, err := c.transport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		wantStatus(t, resp, "hit")
	}
	if o.hits.Load() != before {
		t.Errorf("warmed URLs went to the origin again")
	}
}

func TestStoreTTLIsCappedSoPurgeMarksOutliveEntries(t *testing.T) {
	// max-age=2^31: without the cap the entry would outlive the purge
	// marks (kept store.MaxTTL plus an hour) and reappear after them.
	e := &store.Entry{Freshness: 2147483648 * time.Second, StaleIfError: time.Hour, Header: http.Header{"Etag": {`"x"`}}}
	if got := storeTTL(e, &policy.Route{}); got != store.MaxTTL {
		t.Errorf("storeTTL = %v, want the cap %v", got, store.MaxTTL)
	}
	if got := storeTTL(&store.Entry{Header: http.Header{}}, &policy.Route{}); got != time.Second {
		t.Errorf("storeTTL of a zero-lifetime entry = %v, want 1s", got)
	}
}
