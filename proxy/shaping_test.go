package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestKeepCookiesDropsEveryOtherCookieBeforeKeyingAndForwarding(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "cookies %q", r.Header.Values("Cookie"))
	})
	c := newCache(t, o, `routes:
  - name: static
    match: {path: /static/}
    request: {keep_cookies: []}
  - name: shop
    match: {path: /shop/}
    key: {cookies: [currency]}
    request: {keep_cookies: [currency]}
`)
	_, body := c.get(t, "/static/app.css", "Cookie", "session=secret; _ga=1")
	if body != `cookies []` {
		t.Errorf("a static asset reached the origin with %s, want no cookie", body)
	}
	resp, _ := c.get(t, "/static/app.css", "Cookie", "other=1")
	wantStatus(t, resp, "hit")
	_, body = c.get(t, "/shop/", "Cookie", "session=secret; currency=EUR", "Cookie", "_ga=1")
	if body != `cookies ["currency=EUR"]` {
		t.Errorf("the shop page reached the origin with %s, want only currency", body)
	}
	resp, _ = c.get(t, "/shop/", "Cookie", "currency=EUR; session=other")
	wantStatus(t, resp, "hit")
	resp, _ = c.get(t, "/shop/", "Cookie", "currency=USD; session=secret")
	wantStatus(t, resp, "stored")
	// Without keep_cookies, cookies pass as before.
	_, body = c.get(t, "/other", "Cookie", "a=1")
	if body != `cookies ["a=1"]` {
		t.Errorf("a route without keep_cookies forwarded %s", body)
	}
}

func TestRequestSetFieldsReachTheOriginOnCachedAndPassedRequests(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "pool %q", r.Header.Values("X-Pool"))
	})
	c := newCache(t, o, `routes:
  - name: api
    match: {path: /api/}
    request: {set_fields: {x-pool: api}, allow_fields: [Accept]}
`)
	_, body := c.get(t, "/api/a", "X-Pool", "evil")
	if body != `pool ["api"]` {
		t.Errorf("the origin got %s, want the route's value only", body)
	}
	c.do(t, http.MethodPost, "/api/a", "X-Pool", "evil")
	if got := o.last().Header.Values("X-Pool"); len(got) != 1 || got[0] != "api" {
		t.Errorf("a POST reached the origin with X-Pool %q, want [api]", got)
	}
}

func TestResponseShapingIsStoredAndDelivered(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Server", "Apache/2.4.1 (Unix) PHP/5.3")
		w.Header().Set("X-Powered-By", "PHP/5.3")
		w.Header().Set("X-Frame-Options", "ALLOWALL")
		fmt.Fprint(w, "page")
	})
	c := newCache(t, o, `routes:
  - name: site
    match: {path: /}
    response:
      set_fields: {X-Frame-Options: DENY, Content-Security-Policy: "frame-ancestors 'none'"}
      remove_fields: [Server, X-Powered-By]
`)
	for i, want := range []string{"stored", "hit"} {
		resp, body := c.get(t, "/page")
		wantStatus(t, resp, want)
		h := resp.Header
		if body != "page" || h.Get("Server") != "" || h.Get("X-Powered-By") != "" ||
			strings.Join(h.Values("X-Frame-Options"), ",") != "DENY" || h.Get("Content-Security-Policy") != "frame-ancestors 'none'" {
			t.Errorf("response %d: body %q, header %v", i, body, h)
		}
	}
}

func TestResponseSetFieldsAreOnTheErrorsCachegateAnswersItself(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError) // every probe fails
	})
	const shaping = `
    response: {set_fields: {Strict-Transport-Security: max-age=63072000}}
`
	c := newCache(t, o, downBackends(t, o, shaping)+`  - name: site
    match: {path: /}`+shaping+`client_limits: {max_body_bytes: 16}
`)
	rows := []struct {
		name, path string
		header     []string
		status     int
	}{
		{"503, every upstream down", "/down/a", nil, http.StatusServiceUnavailable},
		{"502, origin unreachable", "/unreachable/a", nil, http.StatusBadGateway},
		{"504, only-if-cached", "/a", []string{"Cache-Control", "only-if-cached"}, http.StatusGatewayTimeout},
		{"400, ambiguous path", "/a/..;/b", nil, http.StatusBadRequest},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			resp, body := c.get(t, r.path, r.header...)
			if resp.StatusCode != r.status {
				t.Fatalf("GET %s: %d %q, want %d", r.path, resp.StatusCode, body, r.status)
			}
			wantShaped(t, resp)
		})
	}
	t.Run("413, a chunked body over the limit", func(t *testing.T) {
		// Unknown length: sent chunked, refused as it is read.
		body := io.MultiReader(strings.NewReader(strings.Repeat("x", 64)))
		req, err := http.NewRequest(http.MethodPost, c.URL+"/a", body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.transport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("POST of 64 bytes chunked over a 16-byte limit: %d, want 413", resp.StatusCode)
		}
		wantShaped(t, resp)
	})
}

// wantShaped fails unless resp, an answer cachegate made itself, carries
// the route's response.set_fields.
func wantShaped(t *testing.T, resp *http.Response) {
	t.Helper()
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=63072000" {
		t.Errorf("%s %s: %d with Strict-Transport-Security %q, want the route's response.set_fields on cachegate's own errors too",
			resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, got)
	}
}

// closedAddr is a loopback address nothing listens on: connecting is
// refused.
// downBackends is the YAML of two backends, one whose probes fail
// against o (sick) and one that refuses connections (gone), and the routes
// /down/ and /unreachable/ to them, each followed by shaping.
func downBackends(t *testing.T, o *origin, shaping string) string {
	return fmt.Sprintf(`backends:
  - name: sick
    upstreams: [{url: %q}]
    probe: {path: /healthz, interval: 1h, initial: sick}
  - name: gone
    upstreams: [{url: "http://%s"}]
routes:
  - name: down
    match: {path: /down/}
    backend: sick
`+shaping+`  - name: unreachable
    match: {path: /unreachable/}
    backend: gone
`+shaping, o.URL, closedAddr(t))
}

func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
