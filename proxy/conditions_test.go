package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// wordpressRoutes are the WordPress routes of config.example.yaml, in
// short: logged-in users, commenters, previews and the admin pass.
const wordpressRoutes = `routes:
  - name: wp-logged-in
    bypass: true
    match: {cookies: [{name: "wordpress_logged_in_*", present: true}]}
  - name: wp-commenter
    bypass: true
    match: {cookies: [{name: "comment_author_*", present: true}]}
  - name: wp-preview
    bypass: true
    match: {query: [{name: preview, equals: "true"}]}
  - name: wp-admin
    bypass: true
    match: {path: /wp-admin/}
  - name: anonymous
    match: {path: /, cookies: [{name: "wordpress_logged_in_*", absent: true}]}
`

// wordpressOrigin answers a page personalised when the request carries a
// logged-in cookie (as WordPress does, case-sensitively), public and
// cacheable either way, as a careless plugin would.
func wordpressOrigin(t *testing.T) (*origin, *atomic.Int64) {
	var n atomic.Int64
	return newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=600")
		user := "anonymous"
		for _, c := range r.Cookies() {
			if strings.HasPrefix(c.Name, "wordpress_logged_in_") {
				user = "user " + c.Value
			}
		}
		fmt.Fprintf(w, "%s %d", user, n.Add(1))
	}), &n
}

func TestALoggedInRequestNeverFillsNorHitsTheAnonymousEntry(t *testing.T) {
	o, _ := wordpressOrigin(t)
	c := newCache(t, o, wordpressRoutes)
	logged := [][]string{
		{"Cookie", "wordpress_logged_in_abc=alice"},
		{"Cookie", "WORDPRESS_LOGGED_IN_abc=alice"},
		{"Cookie", "a=1", "Cookie", "wordpress_logged_in_abc=alice"},
		{"Cookie", "wordpress_logged_in_abc=alice; wordpress_logged_in_abc=bob"},
		{"Cookie", "comment_author_x=carol; wordpress_logged_in_abc=alice"},
	}
	for _, kv := range logged {
		resp, _ := c.get(t, "/post/", kv...)
		wantStatus(t, resp, "fwd=bypass")
	}
	resp, body := c.get(t, "/post/")
	wantStatus(t, resp, "stored")
	if !strings.HasPrefix(body, "anonymous") {
		t.Fatalf("the first anonymous request got %q", body)
	}
	resp, body2 := c.get(t, "/post/", "Cookie", "_ga=GA1.2")
	wantStatus(t, resp, "hit")
	if body2 != body {
		t.Errorf("an anonymous request got %q, want the stored %q", body2, body)
	}
	for _, kv := range logged {
		resp, body := c.get(t, "/post/", kv...)
		wantStatus(t, resp, "fwd=bypass")
		if body == body2 {
			t.Errorf("with %q a logged-in request was served the anonymous entry", kv)
		}
	}
}

func TestAPostByALoggedInUserInvalidatesTheAnonymousEntry(t *testing.T) {
	o, _ := wordpressOrigin(t)
	// The anonymous entry is the default route's, which keys no field: no
	// URL record leads to it.
	c := newCache(t, o, strings.Split(wordpressRoutes, "  - name: anonymous")[0])
	_, first := c.get(t, "/post/")
	resp, _ := c.get(t, "/post/")
	wantStatus(t, resp, "hit")
	resp, _ = c.do(t, http.MethodPost, "/post/", "Cookie", "wordpress_logged_in_abc=alice")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST answered %d", resp.StatusCode)
	}
	resp, body := c.get(t, "/post/")
	if body == first {
		t.Errorf("after a logged-in user's POST, the anonymous entry %q was still served (Cache-Status %q)", body, resp.Header.Get("Cache-Status"))
	}
}

func TestAConditionNeverSeesAFieldNamedInConnection(t *testing.T) {
	o, _ := wordpressOrigin(t)
	c := newCache(t, o, `routes:
  - name: debug
    bypass: true
    match: {headers: [{name: X-Debug, present: true}]}
`)
	resp, _ := c.get(t, "/", "X-Debug", "1", "Connection", "X-Debug")
	if strings.Contains(resp.Header.Get("Cache-Status"), "fwd=bypass") {
		t.Errorf("a field the origin never receives (named in Connection) selected the bypass route: %q", resp.Header.Get("Cache-Status"))
	}
	if got := o.last().Header.Get("X-Debug"); got != "" {
		t.Errorf("the origin received X-Debug %q", got)
	}
	resp, _ = c.get(t, "/", "X-Debug", "1")
	wantStatus(t, resp, "fwd=bypass")
}

func TestATenantHeaderSelectsPerTenantEntries(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "tenant %s", r.Header.Get("X-Tenant"))
	})
	c := newCache(t, o, `routes:
  - name: api
    match: {path: /api/, headers: [{name: X-Tenant, regex: "^[a-z0-9-]{1,32}$"}]}
    key: {headers: [X-Tenant]}
  - name: api-without-tenant
    bypass: true
    match: {path: /api/}
`)
	for _, tenant := range []string{"acme", "globex", "acme", "globex"} {
		_, body := c.get(t, "/api/items", "X-Tenant", tenant)
		if body != "tenant "+tenant {
			t.Errorf("tenant %s got %q", tenant, body)
		}
	}
	resp, _ := c.get(t, "/api/items", "X-Tenant", "acme")
	wantStatus(t, resp, "hit")
	resp, body := c.get(t, "/api/items", "X-Tenant", "ACME")
	wantStatus(t, resp, "fwd=bypass")
	if body != "tenant ACME" {
		t.Errorf("an unlisted tenant got %q", body)
	}
	if n := o.hits.Load(); n != 3 {
		t.Errorf("the origin answered %d requests, want 3 (acme, globex, ACME)", n)
	}
}
