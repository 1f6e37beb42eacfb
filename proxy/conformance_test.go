package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

// skewClock makes c's clock run ahead of the real one by what the test
// adds to the returned counter, so that an entry goes stale without a
// sleep.
func skewClock(c *cache) *atomic.Int64 {
	var skew atomic.Int64
	c.p.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	return &skew
}

func TestAHeadThatFindsAStaleEntryGoesToTheOriginAsHeadAndItsAnswerUpdatesTheEntry(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.Header().Set("Cache-Control", "max-age=1000")
			w.Header().Set("Template-B", "2")
		} else {
			w.Header().Set("Cache-Control", "max-age=1")
			w.Header().Set("Template-A", "1")
		}
		io.WriteString(w, "full body")
	})
	c := newCache(t, o, "")
	skew := skewClock(c)
	c.get(t, "/h")
	skew.Add(int64(10 * time.Second))
	resp, body := c.do(t, http.MethodHead, "/h")
	if got := o.last().Method; got != http.MethodHead {
		t.Fatalf("RFC 9111 §4.3.5: a HEAD that found a stale entry reached the origin as %s, want HEAD", got)
	}
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("Template-A") != "1" || resp.Header.Get("Template-B") != "2" {
		t.Errorf("RFC 9111 §3.2: HEAD answered %d %q Template-A %q Template-B %q, want 200 without body, the stored field kept and the new one added",
			resp.StatusCode, body, resp.Header.Get("Template-A"), resp.Header.Get("Template-B"))
	}
	wantStatus(t, resp, "fwd=stale; fwd-status=200; stored")
	resp, body = c.get(t, "/h")
	wantStatus(t, resp, "hit")
	if body != "full body" || resp.Header.Get("Template-B") != "2" || o.hits.Load() != 2 {
		t.Errorf("RFC 9111 §4.3.5: GET after the HEAD's 200: body %q, Template-B %q after %d origin requests, want the stored body, updated and fresh, after 2",
			body, resp.Header.Get("Template-B"), o.hits.Load())
	}
}

func TestAHeadWhoseAnswerShowsAnotherRepresentationDropsTheStoredEntry(t *testing.T) {
	var version atomic.Int64
	version.Store(1)
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=1000")
		if version.Load() == 1 {
			w.Header().Set("Cache-Control", "max-age=1")
		}
		w.Header().Set("ETag", fmt.Sprintf(`"v%d"`, version.Load()))
		fmt.Fprintf(w, "body v%d", version.Load())
	})
	c := newCache(t, o, "")
	skew := skewClock(c)
	c.get(t, "/changed")
	skew.Add(int64(10 * time.Second))
	version.Store(2)
	resp, _ := c.do(t, http.MethodHead, "/changed")
	if r := o.last(); r.Method != http.MethodHead || r.Header.Get("If-None-Match") != `"v1"` {
		t.Fatalf("RFC 9111 §4.3.1, §4.3.5: the HEAD reached the origin as %s with If-None-Match %q, want HEAD with the stored ETag", r.Method, r.Header.Get("If-None-Match"))
	}
	wantStatus(t, resp, "detail=representation-changed")
	resp, body := c.get(t, "/changed")
	if body != "body v2" || o.hits.Load() != 3 {
		t.Errorf("RFC 9111 §4.3.5: GET after a HEAD showed a new ETag: body %q after %d origin requests (Cache-Status %q), want the new body fetched (3)",
			body, o.hits.Load(), resp.Header.Get("Cache-Status"))
	}
	wantStatus(t, resp, "fwd=uri-miss")
}

func TestAHeadAnsweredWithAnErrorLeavesTheStoredBodyAlone(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.Header().Set("Cache-Control", "max-age=1000")
			w.WriteHeader(http.StatusGone)
			return
		}
		w.Header().Set("Cache-Control", "max-age=1")
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, "full body")
	})
	c := newCache(t, o, "")
	skew := skewClock(c)
	c.get(t, "/gone")
	skew.Add(int64(10 * time.Second))
	resp, _ := c.do(t, http.MethodHead, "/gone")
	if resp.StatusCode != http.StatusGone || o.last().Method != http.MethodHead {
		t.Fatalf("HEAD: %d after an origin %s, want the origin's 410 to a HEAD", resp.StatusCode, o.last().Method)
	}
	_, body := c.get(t, "/gone")
	if body != "full body" {
		t.Errorf("a response to HEAD has no body and is never stored: GET got %q, want the GET's body", body)
	}
}

// postOrigin answers a POST with a representation of its target URI (a
// Content-Location naming it, explicit freshness) unless the path says
// otherwise, and a GET with "got".
func postOrigin(t *testing.T) *origin {
	return newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "got")
			return
		}
		h := w.Header()
		h.Set("Content-Location", "http://"+r.Host+r.URL.Path)
		h.Set("Expires", time.Now().Add(30*24*time.Hour).UTC().Format(http.TimeFormat))
		switch r.URL.Path {
		case "/relative":
			h.Set("Content-Location", "relative")
		case "/elsewhere":
			h.Set("Content-Location", "/other")
		case "/foreign":
			h.Set("Content-Location", "http://other.example/foreign")
		case "/cookie":
			h.Set("Set-Cookie", "session=1")
		case "/private":
			h.Set("Cache-Control", "private")
		case "/heuristic":
			h.Del("Expires")
			h.Set("Last-Modified", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat))
		case "/created":
			w.WriteHeader(http.StatusCreated)
		}
		io.WriteString(w, "posted")
	})
}

func TestAPostResponseNamingItsURLWithExplicitFreshnessIsReusedForGets(t *testing.T) {
	o := postOrigin(t)
	c := newCache(t, o, "")
	resp, body := c.do(t, http.MethodPost, "/post")
	if body != "posted" {
		t.Fatalf("POST: body %q, want the origin's", body)
	}
	wantStatus(t, resp, "fwd=method; fwd-status=200; stored")
	resp, body = c.get(t, "/post")
	if body != "posted" || o.hits.Load() != 1 {
		t.Errorf("RFC 9110 §9.3.3: GET after a POST answered with Content-Location of its URL and Expires: body %q after %d origin requests (Cache-Status %q), want the POST's response from the cache",
			body, o.hits.Load(), resp.Header.Get("Cache-Status"))
	}
	wantStatus(t, resp, "hit")
}

func TestAPostToACachedURLReplacesItsEntryDespiteTheInvalidationItCauses(t *testing.T) {
	o := postOrigin(t)
	c := newCache(t, o, "")
	marks := recordMarks(c)
	c.get(t, "/cached")
	c.do(t, http.MethodPost, "/cached")
	if len(marks.calls()) != 1 {
		t.Fatalf("the POST to a cached URL made %d marks, want 1 (RFC 9111 §4.4)", len(marks.calls()))
	}
	resp, body := c.get(t, "/cached")
	if body != "posted" || o.hits.Load() != 2 {
		t.Errorf("RFC 9110 §9.3.3 after RFC 9111 §4.4: GET after the POST got %q after %d origin requests (Cache-Status %q), want the POST's stored response: its entry must postdate the mark its POST caused",
			body, o.hits.Load(), resp.Header.Get("Cache-Status"))
	}
}

func TestAPostResponseIsStoredOnlyWhenItIsTheRepresentationOfItsURLAndMayBeShared(t *testing.T) {
	o := postOrigin(t)
	c := newCache(t, o, "")
	rows := []struct {
		name, path string
		kv         []string
		stored     bool
	}{
		{"RFC 9110 §8.7 a relative Content-Location resolving to the URL", "/relative", nil, true},
		{"RFC 9110 §8.7 an absolute Content-Location with the URL", "/absolute", nil, true},
		{"RFC 9110 §9.3.3 Content-Location of another URL", "/elsewhere", nil, false},
		{"RFC 9110 §9.3.3 Content-Location of the same path on another host", "/foreign", nil, false},
		{"Set-Cookie (set_cookie: pass)", "/cookie", nil, false},
		{"RFC 9111 §5.2.2.7 private", "/private", nil, false},
		{"RFC 9110 §9.3.3 no explicit freshness", "/heuristic", nil, false},
		{"RFC 9110 §9.3.3 a 201", "/created", nil, false},
		{"RFC 9111 §3.5 a request with Authorization", "/auth", []string{"Authorization", "Bearer x"}, false},
		{"RFC 9111 §5.2.1.5 a request with no-store", "/nostore", []string{"Cache-Control", "no-store"}, false},
	}
	for _, row := range rows {
		c.do(t, http.MethodPost, row.path, row.kv...)
		_, body := c.get(t, row.path)
		if got := body == "posted"; got != row.stored {
			t.Errorf("%s: GET after the POST got %q, want the POST's response stored: %v", row.name, body, row.stored)
		}
	}
	if _, body := c.get(t, "/other"); body != "got" {
		t.Errorf("RFC 9110 §9.3.3: a POST's response was stored under its Content-Location of another URL: GET /other got %q", body)
	}
}

func TestIfModifiedSinceIsAnsweredFromTheDateOfAFreshEntryWithoutLastModified(t *testing.T) {
	date := time.Now().Add(-time.Minute).UTC().Format(http.TimeFormat)
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Date", date)
		io.WriteString(w, "content")
	})
	c := newCache(t, o, "")
	c.get(t, "/ims")
	resp, body := c.get(t, "/ims", "If-Modified-Since", date)
	if resp.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("RFC 9110 §13.1.3, RFC 9111 §4.3.2: If-Modified-Since equal to the stored Date of a response without Last-Modified: %d %q, want 304", resp.StatusCode, body)
	}
	wantStatus(t, resp, "hit")
	earlier := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	if resp, body := c.get(t, "/ims", "If-Modified-Since", earlier); resp.StatusCode != 200 || body != "content" {
		t.Errorf("If-Modified-Since before the stored Date: %d %q, want 200 with the body", resp.StatusCode, body)
	}
	if n := o.hits.Load(); n != 1 {
		t.Errorf("origin saw %d requests, want 1: the cache answers the conditions", n)
	}
}

// rangeOrigin serves "0123456789" with a strong ETag, answering ranges
// (http.ServeContent), and records the Range of each request.
func rangeOrigin(t *testing.T) *origin {
	return rangeOriginTagged(t, `"r1"`)
}

// rangeOriginTagged is rangeOrigin with the entity-tag etag.
func rangeOriginTagged(t *testing.T, etag string) *origin {
	return newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "text/plain")
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader("0123456789"))
	})
}

func TestARangeMissStoresThePartTheOriginSentAndServesRangesInsideIt(t *testing.T) {
	// A weak entity-tag: the part is never combined (RFC 9111 §3.4), so
	// what it does not hold is fetched as asked and replaces it.
	o := rangeOriginTagged(t, `W/"r1"`)
	c := newCache(t, o, "")
	resp, body := c.get(t, "/part", "Range", "bytes=-5")
	if got := o.last().Header.Get("Range"); got != "bytes=-5" {
		t.Fatalf("RFC 9111 §3.3: a Range miss reached the origin with Range %q, want the client's bytes=-5", got)
	}
	if resp.StatusCode != http.StatusPartialContent || body != "56789" {
		t.Fatalf("Range miss: %d %q, want the origin's 206 \"56789\"", resp.StatusCode, body)
	}
	wantStatus(t, resp, "fwd=uri-miss; fwd-status=206; stored")
	for _, row := range []struct{ rng, body, contentRange string }{
		{"bytes=-5", "56789", "bytes 5-9/10"},
		{"bytes=6-8", "678", "bytes 6-8/10"},
		{"bytes=7-", "789", "bytes 7-9/10"},
		{"bytes=-1", "9", "bytes 9-9/10"},
	} {
		resp, body := c.get(t, "/part", "Range", row.rng)
		if resp.StatusCode != http.StatusPartialContent || body != row.body || resp.Header.Get("Content-Range") != row.contentRange {
			t.Errorf("RFC 9111 §3.3 Range %s inside the stored part 5-9: %d %q %q, want 206 %q %q", row.rng, resp.StatusCode, body, resp.Header.Get("Content-Range"), row.body, row.contentRange)
		}
		wantStatus(t, resp, "hit")
	}
	if n := o.hits.Load(); n != 1 {
		t.Fatalf("origin saw %d requests, want 1: ranges inside the part are served from it", n)
	}
	resp, body = c.get(t, "/part", "Range", "bytes=4-6")
	if body != "456" || o.hits.Load() != 2 || o.last().Header.Get("Range") != "bytes=4-6" {
		t.Errorf("RFC 9111 §3.3 a range outside the part: %q after %d origin requests (last Range %q), want the origin asked for bytes=4-6",
			body, o.hits.Load(), o.last().Header.Get("Range"))
	}
	wantStatus(t, resp, "fwd=partial")
	resp, body = c.get(t, "/part")
	if resp.StatusCode != 200 || body != "0123456789" || o.last().Header.Get("Range") != "" {
		t.Errorf("RFC 9111 §3.3 a GET without Range never gets a part: %d %q (origin Range %q), want the whole from the origin", resp.StatusCode, body, o.last().Header.Get("Range"))
	}
	wantStatus(t, resp, "fwd=partial; fwd-status=200; stored")
	resp, body = c.get(t, "/part", "Range", "bytes=0-1")
	if body != "01" || o.hits.Load() != 3 {
		t.Errorf("the full 200 replaced the part: Range bytes=0-1 got %q after %d origin requests, want \"01\" from the cache (3)", body, o.hits.Load())
	}
	wantStatus(t, resp, "hit")
}

func TestARangeRequestWithIfRangeIsNeverAnsweredFromAPart(t *testing.T) {
	o := rangeOrigin(t)
	c := newCache(t, o, "")
	c.get(t, "/if-range", "Range", "bytes=5-9")
	if got := o.last().Header.Get("Range"); got != "bytes=5-9" {
		t.Fatalf("RFC 9111 §3.3: the Range miss reached the origin with Range %q, want bytes=5-9", got)
	}
	resp, body := c.get(t, "/if-range", "Range", "bytes=6-7", "If-Range", `"other"`)
	if resp.StatusCode != 200 || body != "0123456789" || o.hits.Load() != 2 {
		t.Errorf("RFC 9110 §13.1.5: If-Range that does not match: %d %q after %d origin requests, want the whole from the origin", resp.StatusCode, body, o.hits.Load())
	}
}

func TestAPartWhoseBodyIsNotTheRangeItNamesIsNotStored(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Range", "bytes 4-9/10") // six bytes named, five sent
		w.WriteHeader(http.StatusPartialContent)
		io.WriteString(w, "01234")
	})
	c := newCache(t, o, "")
	resp, _ := c.get(t, "/bad-part", "Range", "bytes=-5")
	if got := o.last().Header.Get("Range"); got != "bytes=-5" {
		t.Fatalf("RFC 9111 §3.3: the Range miss reached the origin with Range %q, want bytes=-5", got)
	}
	wantStatus(t, resp, "detail=partial")
	resp, _ = c.get(t, "/bad-part", "Range", "bytes=-5")
	if n := o.hits.Load(); n != 2 {
		t.Errorf("RFC 9110 §14.4: a 206 of 5 bytes naming 6 was stored and served (origin requests %d, Cache-Status %q)", n, resp.Header.Get("Cache-Status"))
	}
}

// slowRangeOrigin is rangeOrigin whose GETs wait for release.
func slowRangeOrigin(t *testing.T, release chan struct{}) *origin {
	return newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		<-release
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("ETag", `"r1"`)
		w.Header().Set("Content-Type", "text/plain")
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader("0123456789"))
	})
}

// waitFilling waits until a fill of path is in flight in c.
func waitFilling(t *testing.T, c *cache, path string) {
	t.Helper()
	key, _, err := c.p.state.Load().cfg.KeyForURL(c.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "a fill of "+path+" is in flight", func() bool { return c.p.collapse.Filling(context.Background(), key.ID()) })
}

func TestAPostDuringARangeMissInvalidatesThePartItStores(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	o := slowRangeOrigin(t, release)
	c := newCache(t, o, "")
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.get(t, "/part-post", "Range", "bytes=-5")
	}()
	// The Range miss's fill is a flight of its key, so that the POST sees
	// it (invalidationUntil) and marks the URL.
	waitFilling(t, c, "/part-post")
	c.do(t, http.MethodPost, "/part-post")
	once.Do(func() { close(release) })
	<-done
	resp, _ := c.get(t, "/part-post", "Range", "bytes=-5")
	if n := o.hits.Load(); n != 3 {
		t.Errorf("RFC 9111 §4.4: the part filled during a POST was served after it (origin requests %d, Cache-Status %q), want it invalidated", n, resp.Header.Get("Cache-Status"))
	}
}

func TestAGetThatWaitedForARangeMissNeverGetsThePart(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	o := slowRangeOrigin(t, release)
	c := newCache(t, o, "")
	ranged := make(chan string, 1)
	go func() {
		_, body := c.get(t, "/part-wait", "Range", "bytes=-5")
		ranged <- body
	}()
	waitFilling(t, c, "/part-wait")
	full := make(chan *http.Response, 1)
	go func() {
		resp, body := c.get(t, "/part-wait")
		resp.Header.Set("X-Body", body)
		full <- resp
	}()
	waitForAWaiter(t)
	once.Do(func() { close(release) })
	if body := <-ranged; body != "56789" {
		t.Errorf("the Range miss got %q, want \"56789\"", body)
	}
	resp := <-full
	if resp.StatusCode != 200 || resp.Header.Get("X-Body") != "0123456789" {
		t.Errorf("RFC 9111 §3.3: a GET collapsed behind a Range miss got %d %q (Cache-Status %q), want the whole 200",
			resp.StatusCode, resp.Header.Get("X-Body"), resp.Header.Get("Cache-Status"))
	}
}

// waitForAWaiter waits until a request of this process waits for another's
// fill (collapse has no counter of its waiters to read).
func waitForAWaiter(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	testutil.Eventually(t, 5*time.Second, "a request waits for the fill", func() bool {
		n := runtime.Stack(buf, true)
		return strings.Contains(string(buf[:n]), "collapse.(*Group).waitLocal")
	})
}

func TestARangeFillThatCannotBeStoredDoesNotMakeItsKeyHitForPass(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		if r.Header.Get("Range") != "" {
			w.Header().Set("Content-Range", "bytes 0-4/*") // length unknown: not stored
			w.WriteHeader(http.StatusPartialContent)
			io.WriteString(w, "01234")
			return
		}
		io.WriteString(w, "0123456789")
	})
	c := newCache(t, o, "")
	resp, _ := c.get(t, "/unknown-length", "Range", "bytes=0-4")
	if o.last().Header.Get("Range") != "bytes=0-4" {
		t.Fatalf("RFC 9111 §3.3: the Range miss reached the origin with Range %q, want bytes=0-4", o.last().Header.Get("Range"))
	}
	wantStatus(t, resp, "detail=partial")
	resp, _ = c.get(t, "/unknown-length")
	if s := resp.Header.Get("Cache-Status"); strings.Contains(s, "hit-for-pass") || !strings.Contains(s, "stored") {
		t.Errorf("a GET after a range fill that could not be stored: Cache-Status %q, want the whole stored, no hit-for-pass", s)
	}
}
