package proxy

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// changingOrigin serves a representation a test replaces (set), answering
// ranges with http.ServeContent. With ignoreIfRange it answers every Range
// as if If-Range matched, as a broken origin might.
type changingOrigin struct {
	*origin
	mu         sync.Mutex
	etag, body string
}

func newChangingOrigin(t *testing.T, etag, body string, ignoreIfRange bool) *changingOrigin {
	co := &changingOrigin{etag: etag, body: body}
	co.origin = newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		co.mu.Lock()
		etag, body := co.etag, co.body
		co.mu.Unlock()
		if ignoreIfRange {
			r.Header.Del("If-Range")
		}
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "text/plain")
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(body))
	})
	return co
}

func (co *changingOrigin) set(etag, body string) {
	co.mu.Lock()
	co.etag, co.body = etag, body
	co.mu.Unlock()
}

// wantOriginAsked fails unless the origin's last request carried Range
// rng and If-Range ifRange.
func wantOriginAsked(t *testing.T, o *origin, rng, ifRange string) {
	t.Helper()
	last := o.last()
	if last.Header.Get("Range") != rng || last.Header.Get("If-Range") != ifRange {
		t.Errorf("RFC 9111 §3.4: the origin was asked Range %q If-Range %q, want Range %q If-Range %q",
			last.Header.Get("Range"), last.Header.Get("If-Range"), rng, ifRange)
	}
}

func TestAPrefixPartAndTheRestTheOriginSendsCombineIntoOneStored200(t *testing.T) {
	o := rangeOrigin(t)
	c := newCache(t, o, "")
	c.get(t, "/prefix", "Range", "bytes=0-3")
	wantOriginAsked(t, o, "bytes=0-3", "")
	resp, body := c.get(t, "/prefix")
	wantOriginAsked(t, o, "bytes=4-", `"r1"`)
	if resp.StatusCode != http.StatusOK || body != "0123456789" || resp.Header.Get("Content-Length") != "10" || resp.Header.Get("Content-Range") != "" {
		t.Errorf("RFC 9111 §3.4: a full GET after a prefix part: %d %q (Content-Length %q, Content-Range %q), want the combined 200 of 10 bytes",
			resp.StatusCode, body, resp.Header.Get("Content-Length"), resp.Header.Get("Content-Range"))
	}
	wantStatus(t, resp, "fwd=partial; fwd-status=206; stored")
	wantStatus(t, resp, "detail=combined")
	resp, body = c.get(t, "/prefix")
	if resp.StatusCode != http.StatusOK || body != "0123456789" || o.hits.Load() != 2 {
		t.Errorf("RFC 9111 §3.4: a GET after combining: %d %q after %d origin requests, want the whole 200 from the cache (2)", resp.StatusCode, body, o.hits.Load())
	}
	wantStatus(t, resp, "hit")
	resp, body = c.get(t, "/prefix", "Range", "bytes=3-5")
	if resp.StatusCode != http.StatusPartialContent || body != "345" || o.hits.Load() != 2 {
		t.Errorf("RFC 9111 §3.4: a range across the combined bytes: %d %q after %d origin requests, want 206 \"345\" from the cache", resp.StatusCode, body, o.hits.Load())
	}
}

func TestASuffixPartCombinesWithTheStartTheOriginSends(t *testing.T) {
	o := rangeOrigin(t)
	c := newCache(t, o, "")
	c.get(t, "/suffix", "Range", "bytes=-4")
	resp, body := c.get(t, "/suffix", "Range", "bytes=1-2")
	wantOriginAsked(t, o, "bytes=0-5", `"r1"`)
	if resp.StatusCode != http.StatusPartialContent || body != "12" || resp.Header.Get("Content-Range") != "bytes 1-2/10" {
		t.Errorf("RFC 9111 §3.4: a range outside a suffix part: %d %q %q, want 206 \"12\" bytes 1-2/10 from the combined entry", resp.StatusCode, body, resp.Header.Get("Content-Range"))
	}
	wantStatus(t, resp, "detail=combined")
	resp, body = c.get(t, "/suffix")
	if resp.StatusCode != http.StatusOK || body != "0123456789" || o.hits.Load() != 2 {
		t.Errorf("RFC 9111 §3.4: a GET after combining a suffix part: %d %q after %d origin requests, want the whole 200 from the cache (2)", resp.StatusCode, body, o.hits.Load())
	}
	wantStatus(t, resp, "hit")
}

func TestAPartWithAWeakETagIsNotCombined(t *testing.T) {
	o := rangeOriginTagged(t, `W/"r1"`)
	c := newCache(t, o, "")
	c.get(t, "/weak", "Range", "bytes=0-3")
	resp, body := c.get(t, "/weak")
	wantOriginAsked(t, o, "", "")
	if resp.StatusCode != http.StatusOK || body != "0123456789" {
		t.Errorf("RFC 9111 §3.4: a full GET after a weak part: %d %q, want the whole 200 from the origin", resp.StatusCode, body)
	}
	if s := resp.Header.Get("Cache-Status"); strings.Contains(s, detailCombined) {
		t.Errorf("RFC 9110 §8.8.1: a part with a weak ETag was combined (Cache-Status %q)", s)
	}
}

func TestA206WithAnotherETagIsNotCombinedAndTheClientGetsTheWhole200(t *testing.T) {
	o := newChangingOrigin(t, `"v1"`, "0123456789", true)
	c := newCache(t, o.origin, "")
	c.get(t, "/changed", "Range", "bytes=0-3")
	o.set(`"v2"`, "abcdefghij")
	resp, body := c.get(t, "/changed")
	if resp.StatusCode != http.StatusOK || body != "abcdefghij" || resp.Header.Get("ETag") != `"v2"` {
		t.Errorf("RFC 9111 §3.4: a full GET whose completing 206 has another ETag: %d %q (ETag %q), want the whole new 200", resp.StatusCode, body, resp.Header.Get("ETag"))
	}
	if o.hits.Load() != 3 || o.last().Header.Get("Range") != "" {
		t.Errorf("after the 206 of another representation the origin saw %d requests, the last with Range %q, want 3 and the whole asked for", o.hits.Load(), o.last().Header.Get("Range"))
	}
	if s := resp.Header.Get("Cache-Status"); strings.Contains(s, detailCombined) {
		t.Errorf("RFC 9111 §3.4: parts of two representations were combined (Cache-Status %q)", s)
	}
	resp, body = c.get(t, "/changed")
	wantStatus(t, resp, "hit")
	if body != "abcdefghij" || o.hits.Load() != 3 {
		t.Errorf("a GET after: %q after %d origin requests, want the new whole from the cache", body, o.hits.Load())
	}
}

func TestARangeOutsideAPartWhoseCompletionFailsGetsTheRangeItAsked(t *testing.T) {
	o := newChangingOrigin(t, `"v1"`, "0123456789", true)
	c := newCache(t, o.origin, "")
	c.get(t, "/changed-range", "Range", "bytes=0-3")
	o.set(`"v2"`, "abcdefghij")
	resp, body := c.get(t, "/changed-range", "Range", "bytes=5-6")
	if resp.StatusCode != http.StatusPartialContent || body != "fg" || resp.Header.Get("Content-Range") != "bytes 5-6/10" {
		t.Errorf("RFC 9111 §3.4: a range whose completing 206 has another ETag: %d %q %q, want the origin's 206 \"fg\" bytes 5-6/10", resp.StatusCode, body, resp.Header.Get("Content-Range"))
	}
	wantOriginAsked(t, o.origin, "bytes=5-6", "")
}

func TestACompletionTheOriginAnswersWholeIsStoredWhole(t *testing.T) {
	o := newChangingOrigin(t, `"v1"`, "0123456789", false)
	c := newCache(t, o.origin, "")
	c.get(t, "/if-range-fails", "Range", "bytes=0-3")
	o.set(`"v2"`, "abcdefghij")
	resp, body := c.get(t, "/if-range-fails")
	wantOriginAsked(t, o.origin, "bytes=4-", `"v1"`)
	if resp.StatusCode != http.StatusOK || body != "abcdefghij" {
		t.Errorf("RFC 9110 §13.1.5: If-Range failed and the origin sent the whole: the client got %d %q, want 200 \"abcdefghij\"", resp.StatusCode, body)
	}
	wantStatus(t, resp, "fwd=partial; fwd-status=200; stored")
	resp, body = c.get(t, "/if-range-fails")
	wantStatus(t, resp, "hit")
	if body != "abcdefghij" || o.hits.Load() != 2 {
		t.Errorf("a GET after: %q after %d origin requests, want the new whole from the cache", body, o.hits.Load())
	}
}

func TestACompletingBodyShorterThanItsRangeIsNotCombined(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("ETag", `"r1"`)
		if r.Header.Get("Range") == "bytes=4-" {
			w.Header().Set("Content-Range", "bytes 4-9/10") // six bytes named, three sent
			w.WriteHeader(http.StatusPartialContent)
			w.Write([]byte("456"))
			return
		}
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader("0123456789"))
	})
	c := newCache(t, o, "")
	c.get(t, "/short", "Range", "bytes=0-3")
	resp, body := c.get(t, "/short")
	if resp.StatusCode != http.StatusOK || body != "0123456789" || o.hits.Load() != 3 {
		t.Errorf("RFC 9110 §14.4: a completing 206 of 3 bytes naming 6: the client got %d %q after %d origin requests, want the whole 200 asked again (3)", resp.StatusCode, body, o.hits.Load())
	}
	wantOriginAsked(t, o, "", "")
}

func TestAHeadAfterAPrefixPartCombinesItAndGetsTheWholeHeaderWithoutBody(t *testing.T) {
	o := rangeOrigin(t)
	c := newCache(t, o, "")
	c.get(t, "/head-part", "Range", "bytes=0-3")
	resp, body := c.do(t, http.MethodHead, "/head-part")
	wantOriginAsked(t, o, "bytes=4-", `"r1"`)
	if resp.StatusCode != http.StatusOK || body != "" || resp.Header.Get("Content-Length") != "10" || resp.Header.Get("Content-Range") != "" {
		t.Errorf("RFC 9111 §3.4: a HEAD after a prefix part: %d %q (Content-Length %q, Content-Range %q), want the combined 200's header, no body",
			resp.StatusCode, body, resp.Header.Get("Content-Length"), resp.Header.Get("Content-Range"))
	}
	resp, body = c.get(t, "/head-part")
	if body != "0123456789" || o.hits.Load() != 2 {
		t.Errorf("a GET after the HEAD combined the part: %q after %d origin requests, want the whole from the cache", body, o.hits.Load())
	}
	wantStatus(t, resp, "hit")
}
