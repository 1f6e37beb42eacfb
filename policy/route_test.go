package policy

import (
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/cachegate/cachegate/config"
)

const routesConfig = `origin: http://o
routes:
  - name: static
    match: {path: /static/}
  - name: png
    match: {path: "/img/**.png"}
  - name: one-level
    match: {path: "/docs/*/index.html"}
  - name: any-depth
    match: {path: "/a/**/b"}
  - name: class
    match: {path: "/v[0-9]/x?"}
  - name: tenants
    match: {host: "*.example.com"}
  - name: exact-host
    match: {host: Example.org, path: /}
  - name: writes
    match: {methods: [POST, PUT]}
  - name: ipv6
    match: {host: "[::1]"}
`

func TestRouteMatchesHostPathAndMethod(t *testing.T) {
	cfg := mustParse(t, routesConfig)
	for _, tc := range []struct {
		method, url, host, want string
	}{
		{"GET", "/static/app.js", "", "static"},
		{"GET", "/static", "", "default"},
		{"GET", "/img/a.png", "", "png"},
		{"GET", "/img/a/b/c.png", "", "png"},
		{"GET", "/img/a.jpg", "", "default"},
		{"GET", "/docs/v1/index.html", "", "one-level"},
		{"GET", "/docs/v1/v2/index.html", "", "default"},
		{"GET", "/a/b", "", "any-depth"},
		{"GET", "/a/x/y/b", "", "any-depth"},
		{"GET", "/v1/xy", "", "class"},
		{"GET", "/vx/xy", "", "default"},
		{"GET", "/v1/x/", "", "default"},
		{"GET", "/", "shop.example.com", "tenants"},
		{"GET", "/", "a.b.EXAMPLE.com:8443", "tenants"},
		{"GET", "/", "example.com", "default"},
		{"GET", "/", "badexample.com", "default"},
		{"GET", "/", "EXAMPLE.ORG:80", "exact-host"},
		{"GET", "/", "example.org.", "exact-host"},
		{"GET", "/", "www.example.org", "default"},
		{"POST", "/", "", "writes"},
		{"DELETE", "/", "", "default"},
		{"POST", "/static/x", "", "static"},
		{"GET", "/", "[::1]:8080", "ipv6"},
		// Dot segments are resolved before matching: no route can be
		// reached, or escaped, through "..".
		{"GET", "/static/../api/secret", "", "default"},
		{"GET", "/x/../static/app.js", "", "static"},
	} {
		r := httptest.NewRequest(tc.method, tc.url, nil)
		r.Host = tc.host
		if got := cfg.Route(r).Name; got != tc.want {
			t.Errorf("%s %s (Host %q) matched route %q, want %q", tc.method, tc.url, tc.host, got, tc.want)
		}
	}
}

func TestRouteReturnsPointersIntoConfig(t *testing.T) {
	cfg := mustParse(t, routesConfig)
	if rt := cfg.Route(httptest.NewRequest("GET", "/static/a", nil)); rt != &cfg.routes[0] {
		t.Errorf("Route returned %p, want &cfg.routes[0] = %p", rt, &cfg.routes[0])
	}
	if rt := cfg.Route(httptest.NewRequest("GET", "/nothing", nil)); rt != &cfg.defaultRoute {
		t.Errorf("Route returned %p, want &cfg.defaultRoute = %p", rt, &cfg.defaultRoute)
	}
}

func TestRouteAllocatesNothing(t *testing.T) {
	if raceEnabled {
		// regexp's machines come from a sync.Pool, which the race detector
		// empties at random: the count is checked by runs without -race
		// (bash .ci/test) and shown by BenchmarkRouteKey.
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	cfg := mustParse(t, routesConfig)
	r := httptest.NewRequest("GET", "/img/a/b/c.png", nil)
	r.Host = "www.example.net:8080"
	if n := testing.AllocsPerRun(100, func() { cfg.Route(r) }); n != 0 {
		t.Errorf("Route allocated %v times per call, want 0", n)
	}
}

func TestRouteIsSafeForConcurrentUse(t *testing.T) {
	cfg := mustParse(t, routesConfig)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				r := httptest.NewRequest("GET", "/img/x/y.png", nil)
				if got := cfg.Route(r).Name; got != "png" {
					t.Errorf("got route %q, want png", got)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestRouteNotMadeByCompileStillMatches(t *testing.T) {
	cfg := &Rules{routes: []Route{{Route: config.Route{Name: "g", Match: config.Match{Path: "/g/*.css", Host: "*.Example.com"}}}}}
	r := httptest.NewRequest("GET", "/g/a.css", nil)
	r.Host = "x.example.com"
	if got := cfg.Route(r); got != &cfg.routes[0] {
		t.Errorf("an uncompiled route did not match: got %q", got.Name)
	}
}

func TestRemoveDotSegments(t *testing.T) {
	// RFC 3986 §5.2.4 and the examples of §5.4.
	for in, want := range map[string]string{
		"/a/b/c/./../../g":   "/a/g",
		"mid/content=5/../6": "mid/6",
		"/./a":               "/a",
		"/a/.":               "/a/",
		"/a/..":              "/",
		"/..":                "/",
		"/../../x":           "/x",
		"/a/.../b":           "/a/.../b",
		"/a/..b/c":           "/a/..b/c",
		"":                   "",
		"/":                  "/",
	} {
		if got := removeDotSegments(in); got != want {
			t.Errorf("removeDotSegments(%q) = %q, want %q", in, got, want)
		}
	}
}
