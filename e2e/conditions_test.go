package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/cachegate/cachegate/internal/testutil"
	"gopkg.in/yaml.v3"
)

// exampleRoutes returns, as YAML for a setup's extra, the routes of
// config.example.yaml whose names start with prefix, their host replaced by
// siteHost (the host every test request is for).
func exampleRoutes(t *testing.T, prefix, host string) string {
	t.Helper()
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Routes []yaml.Node `yaml:"routes"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var picked []yaml.Node
	for _, n := range doc.Routes {
		var r struct {
			Name string `yaml:"name"`
		}
		if err := n.Decode(&r); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(r.Name, prefix) {
			picked = append(picked, n)
		}
	}
	if len(picked) == 0 {
		t.Fatalf("config.example.yaml has no route named %s*", prefix)
	}
	out, err := yaml.Marshal(map[string][]yaml.Node{"routes": picked})
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(out), host, siteHost)
}

// wordpress is a test origin that answers as WordPress does: a page for
// the user its logged-in cookie names (read case-sensitively, as PHP
// does), else the anonymous page; every answer public and cacheable, as a
// careless plugin would make it. It counts the anonymous renders and
// records the cookies of each.
type wordpress struct {
	*httptest.Server
	mu             sync.Mutex
	anonymous      int
	anonCookies    []string
	loggedInRender int
}

func startWordPress(t *testing.T) *wordpress {
	wp := &wordpress{}
	wp.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=600")
		w.Header().Set("X-Powered-By", "PHP/8.3")
		user := ""
		for _, c := range r.Cookies() {
			if strings.HasPrefix(c.Name, "wordpress_logged_in_") {
				user = c.Value
			}
		}
		wp.mu.Lock()
		defer wp.mu.Unlock()
		if user != "" {
			wp.loggedInRender++
			fmt.Fprintf(w, "hello %s, your dashboard", user)
			return
		}
		wp.anonymous++
		wp.anonCookies = append(wp.anonCookies, r.Header.Get("Cookie"))
		fmt.Fprintf(w, "anonymous page %d", wp.anonymous)
	}))
	t.Cleanup(wp.Close)
	return wp
}

func (wp *wordpress) counts() (anonymous, loggedIn int) {
	wp.mu.Lock()
	defer wp.mu.Unlock()
	return wp.anonymous, wp.loggedInRender
}

// loggedInCookies are a logged-in user's requests, as a browser sends them
// and as an attacker might: odd case, duplicated, split over two Cookie
// lines, behind other cookies.
var loggedInCookies = []http.Header{
	{"Cookie": {"wordpress_test_cookie=WP+Cookie+check; wordpress_logged_in_5c0ffee=alice%7C1767225600%7Ctoken"}},
	{"Cookie": {"WordPress_Logged_In_5c0ffee=alice"}},
	{"Cookie": {"wordpress_logged_in_5c0ffee=alice; wordpress_logged_in_5c0ffee=mallory"}},
	{"Cookie": {"_ga=GA1.2.3", "wordpress_logged_in_5c0ffee=alice"}},
	{"Cookie": {"comment_author_5c0ffee=Joe; wordpress_logged_in_5c0ffee=alice"}},
}

func TestTheWordPressExampleNeverLetsALoggedInRequestFillOrHitTheAnonymousEntry(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	wp := startWordPress(t)
	in := startInstance(t, setup{origin: wp.URL, backend: "redis", prefix: testutil.UniquePrefix(t),
		extra: exampleRoutes(t, "wp-", "blog.example.org")})

	// Logged-in requests first: were one stored, the anonymous page below
	// would be a hit on it.
	for _, h := range loggedInCookies {
		resp, body := in.do(http.MethodGet, "/2026/11/a-post/", h)
		if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "fwd=bypass") {
			t.Errorf("logged-in request %q: Cache-Status %q, want fwd=bypass", h["Cookie"], cs)
		}
		if strings.HasPrefix(body, "anonymous") && !strings.Contains(strings.Join(h["Cookie"], ";"), "WordPress_") {
			t.Errorf("logged-in request %q got the anonymous page %q", h["Cookie"], body)
		}
	}
	anonBefore, _ := wp.counts()

	resp, first := in.do(http.MethodGet, "/2026/11/a-post/", http.Header{"Cookie": {"wordpress_test_cookie=WP+Cookie+check; _ga=1"}})
	if !strings.HasPrefix(first, "anonymous page") || !strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
		t.Fatalf("the first anonymous request got %q (Cache-Status %q), want the anonymous page, stored", first, resp.Header.Get("Cache-Status"))
	}
	if resp.Header.Get("X-Powered-By") != "" || resp.Header.Get("X-Frame-Options") != "SAMEORIGIN" {
		t.Errorf("wp-pages' response shaping not applied: %v", resp.Header)
	}
	resp, again := in.do(http.MethodGet, "/2026/11/a-post/", nil)
	if again != first || !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
		t.Errorf("a second anonymous request got %q (Cache-Status %q), want a hit on %q", again, resp.Header.Get("Cache-Status"), first)
	}
	if resp.Header.Get("X-Frame-Options") != "SAMEORIGIN" {
		t.Errorf("the stored entry lacks the route's X-Frame-Options: %v", resp.Header)
	}

	// Logged-in requests after the anonymous entry exists: never a hit.
	for _, h := range loggedInCookies {
		resp, body := in.do(http.MethodGet, "/2026/11/a-post/", h)
		if body == first || strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
			t.Errorf("logged-in request %q was served the anonymous entry (Cache-Status %q)", h["Cookie"], resp.Header.Get("Cache-Status"))
		}
	}
	// A logged-in cookie hidden by naming Cookie in Connection never
	// reaches WordPress: the request is anonymous and is answered so.
	resp, body := in.do(http.MethodGet, "/2026/11/a-post/", http.Header{"Cookie": {"wordpress_logged_in_5c0ffee=alice"}, "Connection": {"Cookie"}})
	if body != first {
		t.Errorf("a request whose Cookie is hop-by-hop got %q (Cache-Status %q), want the anonymous entry", body, resp.Header.Get("Cache-Status"))
	}
	for _, path := range []string{"/?p=12&preview=true", "/wp-admin/", "/wp-login.php"} {
		resp, _ := in.do(http.MethodGet, path, nil)
		if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "fwd=bypass") {
			t.Errorf("GET %s: Cache-Status %q, want fwd=bypass", path, cs)
		}
	}

	// The anonymous fill, the three bypassed pages, and the odd-case
	// cookie, which bypasses (cookie names are compared case-insensitively)
	// though WordPress reads it as no login.
	anon, _ := wp.counts()
	if anon-anonBefore != 1+3+1 {
		t.Errorf("WordPress rendered the anonymous page %d times, want 5: /2026/11/a-post/ once, three bypassed pages, one odd-case cookie", anon-anonBefore)
	}
	wp.mu.Lock()
	defer wp.mu.Unlock()
	if c := wp.anonCookies[anonBefore]; c != "" {
		t.Errorf("the anonymous fill reached WordPress with Cookie %q, want none (keep_cookies: [])", c)
	}
}

func TestTheTenantExampleKeepsOneEntryPerTenant(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	var mu sync.Mutex
	renders := map[string]int{}
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant := r.Header.Get("X-Tenant")
		mu.Lock()
		renders[tenant]++
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "items of %q", tenant)
	}))
	t.Cleanup(o.Close)
	in := startInstance(t, setup{origin: o.URL, backend: "redis", prefix: testutil.UniquePrefix(t),
		extra: exampleRoutes(t, "api-", "api.example.org")})
	for range 2 {
		for _, tenant := range []string{"acme", "globex"} {
			_, body := in.do(http.MethodGet, "/v1/items", http.Header{"X-Tenant": {tenant}})
			if want := fmt.Sprintf("items of %q", tenant); body != want {
				t.Errorf("tenant %s got %q, want %q", tenant, body, want)
			}
		}
	}
	mu.Lock()
	if renders["acme"] != 1 || renders["globex"] != 1 {
		t.Errorf("origin renders %v, want one per tenant", renders)
	}
	mu.Unlock()
	// No tenant, or one outside the pattern, or two: passed, uncached.
	for _, h := range []http.Header{nil, {"X-Tenant": {"ACME"}}, {"X-Tenant": {"acme", "globex"}}} {
		resp, _ := in.do(http.MethodGet, "/v1/items", h)
		if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "fwd=bypass") {
			t.Errorf("X-Tenant %q: Cache-Status %q, want fwd=bypass", h["X-Tenant"], cs)
		}
	}
}
