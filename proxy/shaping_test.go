package proxy

import (
	"fmt"
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
