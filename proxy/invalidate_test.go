package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// blogRules is a blog whose post writes invalidate the author's list, the
// category, the home page and every page of the author's.
const blogRules = `
routes:
  - name: post
    match: {path: "/authors/{author}/posts/{id}"}
    invalidate:
      - urls: ["/", "/authors/{author}"]
        tags: ["post-{id}"]
      - methods: [DELETE]
        prefixes: ["/categories/"]
  - name: user
    match: {path: "/users/{user}/**"}
    invalidate:
      - patterns: ["/users/{user}/**"]
`

// versionedOrigin answers GETs with a body counting the GETs of that path
// (max-age=600, tagged post-<last segment> under /tagged/), and unsafe
// requests with status.
func versionedOrigin(t *testing.T, status *atomic.Int64) *origin {
	var n atomic.Int64
	return newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.WriteHeader(int(status.Load()))
			return
		}
		w.Header().Set("Cache-Control", "max-age=600")
		if id, ok := strings.CutPrefix(r.URL.Path, "/tagged/"); ok {
			w.Header().Set("Surrogate-Key", "post-"+id)
		}
		fmt.Fprintf(w, "%s %d", r.URL.Path, n.Add(1))
	})
}

// cached reports whether a GET of path is a hit.
func (c *cache) cached(t *testing.T, path string) bool {
	t.Helper()
	resp, _ := c.get(t, path)
	return strings.Contains(resp.Header.Get("Cache-Status"), "hit")
}

func TestASuccessfulUnsafeRequestPurgesWhatItsRouteRulesName(t *testing.T) {
	var status atomic.Int64
	status.Store(http.StatusOK)
	c := newCache(t, versionedOrigin(t, &status), blogRules)
	pages := []string{"/", "/authors/ann", "/authors/bob", "/tagged/42", "/tagged/7", "/categories/go", "/about"}
	for _, p := range pages {
		c.get(t, p)
	}
	resp, _ := c.do(t, http.MethodPut, "/authors/ann/posts/42")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
	for p, want := range map[string]bool{"/": false, "/authors/ann": false, "/tagged/42": false,
		"/authors/bob": true, "/tagged/7": true, "/categories/go": true, "/about": true} {
		if got := c.cached(t, p); got != want {
			t.Errorf("after PUT /authors/ann/posts/42: %s cached = %v, want %v", p, got, want)
		}
	}
	c.do(t, http.MethodDelete, "/authors/ann/posts/42")
	if c.cached(t, "/categories/go") {
		t.Errorf("after DELETE /posts/42: /categories/go still cached, want purged by the DELETE rule")
	}
}

func TestAFailedUnsafeRequestPurgesNothing(t *testing.T) {
	var status atomic.Int64
	c := newCache(t, versionedOrigin(t, &status), blogRules)
	for _, code := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusForbidden, http.StatusConflict} {
		c.get(t, "/")
		c.get(t, "/tagged/42")
		status.Store(int64(code))
		c.do(t, http.MethodPut, "/authors/ann/posts/42")
		if !c.cached(t, "/") || !c.cached(t, "/tagged/42") {
			t.Errorf("a PUT answered %d purged the rule's pages", code)
		}
	}
}

func TestACapturedValueCannotWidenARulesPattern(t *testing.T) {
	var status atomic.Int64
	status.Store(http.StatusNoContent)
	c := newCache(t, versionedOrigin(t, &status), blogRules)
	for _, p := range []string{"/users/42/a", "/users/42/b/c", "/users/421/a"} {
		c.get(t, p)
	}
	// A client's path segments full of glob metacharacters: each is taken
	// literally, so no other user's pages are purged.
	for _, evil := range []string{"*", "**", "4[0-9]", "4?", "%2A", "{user}"} {
		c.do(t, http.MethodPost, "/users/"+evil+"/x")
		for _, p := range []string{"/users/42/a", "/users/42/b/c", "/users/421/a"} {
			if !c.cached(t, p) {
				t.Fatalf("POST /users/%s/x purged %s: a captured value widened the pattern", evil, p)
			}
		}
	}
	c.do(t, http.MethodPost, "/users/42/x")
	for p, want := range map[string]bool{"/users/42/a": false, "/users/42/b/c": false, "/users/421/a": true} {
		if got := c.cached(t, p); got != want {
			t.Errorf("after POST /users/42/x: %s cached = %v, want %v", p, got, want)
		}
	}
}
