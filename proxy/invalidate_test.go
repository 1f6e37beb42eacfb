package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/store"
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

// exampleCache is a Proxy serving config.example.yaml before o.
func exampleCache(t *testing.T, o *origin) *cache {
	t.Helper()
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.Replace(string(data), `origin: "http://127.0.0.1:9000"`, fmt.Sprintf("origin: %q", o.URL), 1)
	cfg, err := config.Parse("config.example.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := policy.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(rules, Options{Store: store.NewMemory(64 << 20), Logger: testutil.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() { srv.Close(); p.Close() })
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &cache{Server: srv, p: p, transport: tr}
}

// onHost sends method path to c for host.
func (c *cache) onHost(t *testing.T, method, host, path string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, c.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := c.transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestTheExampleBlogPurgesThePostItsAuthorListCategoryAndHomeAfterAWrite(t *testing.T) {
	var status atomic.Int64
	status.Store(http.StatusOK)
	// The category page lists post 42 and carries its tag.
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.WriteHeader(int(status.Load()))
			return
		}
		if strings.HasPrefix(r.URL.Path, "/categories/") {
			w.Header().Set("Surrogate-Key", "post-42 post-7")
		}
		fmt.Fprint(w, r.URL.Path)
	})
	c := exampleCache(t, o)
	const host = "news.example.net"
	state := func(path string) string {
		resp := c.onHost(t, http.MethodGet, host, path)
		return resp.Header.Get("Cache-Status")
	}
	pages := map[string]string{
		"/posts/42": "purged", "/authors/ann": "purged", "/": "purged", "/categories/go": "purged",
		"/authors/ann/page/2": "stale", "/posts/7": "kept", "/authors/bob": "kept",
	}
	for p := range pages {
		state(p)
		if s := state(p); !strings.Contains(s, "hit") {
			t.Fatalf("%s is not stored by the example's blog-pages route: Cache-Status %q", p, s)
		}
	}
	if resp := c.onHost(t, http.MethodPut, host, "/authors/ann/posts/42"); resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
	for p, want := range pages {
		s := state(p)
		var ok bool
		switch want {
		case "purged":
			ok = !strings.Contains(s, "hit")
		case "stale":
			ok = strings.Contains(s, "soft-purged")
		case "kept":
			ok = strings.Contains(s, "hit") && !strings.Contains(s, "purged")
		}
		if !ok {
			t.Errorf("after PUT /authors/ann/posts/42: %s has Cache-Status %q, want it %s", p, s, want)
		}
	}
}
