package policy

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/config"
)

const conditionsConfig = `origin: http://o
routes:
  - name: wp-private
    bypass: true
    match:
      cookies:
        - {name: "wordpress_logged_in_*", present: true}
  - name: wp-commenter
    bypass: true
    match: {cookies: [{name: "comment_author_*", present: true}]}
  - name: wp-preview
    bypass: true
    match: {query: [{name: preview, equals: "true"}]}
  - name: beta
    bypass: true
    match: {path: /beta, cookies: [{name: beta, prefix: "on"}]}
  - name: not-staff
    bypass: true
    match: {path: /staff, cookies: [{name: role, equals: staff, not: true}]}
  - name: tenant-api
    match:
      path: /api/
      headers: [{name: X-Tenant, regex: "^[a-z]+$"}]
    key: {headers: [X-Tenant]}
  - name: lang
    match: {path: /lang, cookies: [{name: lang, equals: de}]}
    key: {cookies: [lang]}
  - name: not-json
    match: {path: /neg, headers: [{name: accept, equals: application/json, not: true}]}
    key: {headers: [Accept]}
  - name: no-debug
    match: {path: /nodebug, headers: [{name: X-Debug, absent: true}], query: [{name: "debug*", absent: true}]}
`

func TestConditionsSelectRoutesByHeadersCookiesAndQuery(t *testing.T) {
	cfg := mustParse(t, conditionsConfig)
	for _, tc := range []struct {
		url    string
		header map[string][]string
		want   string
	}{
		{"/", nil, "default"},
		{"/", map[string][]string{"Cookie": {"wordpress_logged_in_abc=u|1|x"}}, "wp-private"},
		{"/", map[string][]string{"Cookie": {"wordpress_test_cookie=WP"}}, "default"},
		// Cookie names are compared case-insensitively, on every line and
		// every pair, so no spelling slips past a bypass route.
		{"/", map[string][]string{"Cookie": {"a=1; WordPress_Logged_In_abc=x"}}, "wp-private"},
		{"/", map[string][]string{"Cookie": {"a=1", " wordpress_logged_in_=x ;b=2"}}, "wp-private"},
		{"/", map[string][]string{"Cookie": {"comment_author_e3f=joe"}}, "wp-commenter"},
		{"/", map[string][]string{"Cookie": {"xcomment_author_e3f=joe"}}, "default"},
		{"/?preview=true", nil, "wp-preview"},
		{"/?PREVIEW=true", nil, "wp-preview"},
		{"/?%70review=tru%65", nil, "wp-preview"},
		{"/?preview=false", nil, "default"},
		{"/?preview=false&preview=true", nil, "wp-preview"}, // bypass: one passing occurrence is enough
		{"/beta", map[string][]string{"Cookie": {"beta=on1"}}, "beta"},
		{"/beta", map[string][]string{"Cookie": {"beta=off; beta=on"}}, "beta"},
		{"/beta", map[string][]string{"Cookie": {"beta=off"}}, "default"},
		{"/staff", map[string][]string{"Cookie": {"role=staff"}}, "default"},
		{"/staff", map[string][]string{"Cookie": {"role=staff; role=guest"}}, "not-staff"}, // ambiguous: bypassed
		{"/staff", nil, "not-staff"},
		{"/api/x", map[string][]string{"X-Tenant": {"acme"}}, "tenant-api"},
		{"/api/x", map[string][]string{"X-Tenant": {"ACME"}}, "default"},
		{"/api/x", map[string][]string{"X-Tenant": {"acme", "evil"}}, "default"}, // read as "acme, evil"
		{"/api/x", nil, "default"},
		{"/lang", map[string][]string{"Cookie": {"lang=de"}}, "lang"},
		{"/lang", map[string][]string{"Cookie": {"lang=de", "lang=fr"}}, "default"}, // cached: every occurrence must pass
		{"/lang", map[string][]string{"Cookie": {"lang=fr"}}, "default"},
		{"/neg", map[string][]string{"Accept": {"text/html"}}, "not-json"},
		{"/neg", nil, "not-json"},
		{"/neg", map[string][]string{"Accept": {"application/json"}}, "default"},
		{"/nodebug", nil, "no-debug"},
		{"/nodebug", map[string][]string{"X-Debug": {""}}, "default"},
		{"/nodebug?debugx=1", nil, "default"},
	} {
		r := httptest.NewRequest("GET", tc.url, nil)
		for name, values := range tc.header {
			r.Header[name] = values
		}
		if got := cfg.Route(r).Name; got != tc.want {
			t.Errorf("GET %s with %v matched route %q, want %q", tc.url, tc.header, got, tc.want)
		}
	}
}

func TestARouteWithConditionsKeysItsEntriesApartFromOtherRoutes(t *testing.T) {
	cfg := mustParse(t, `origin: http://o
routes:
  - name: anonymous
    match: {path: /, cookies: [{name: "session*", absent: true}]}
`)
	anon := httptest.NewRequest("GET", "/page", nil)
	user := httptest.NewRequest("GET", "/page", nil)
	user.Header.Set("Cookie", "sessionid=secret")
	ra, ru := cfg.Route(anon), cfg.Route(user)
	if ra.Name != "anonymous" || ru.Name != "default" {
		t.Fatalf("routes %q and %q, want anonymous and default", ra.Name, ru.Name)
	}
	ka, ku := ra.Key(anon, "http"), ru.Key(user, "http")
	if ka.ID() == ku.ID() {
		t.Errorf("the anonymous route and the default route key /page alike (%q): a user's request would fill the anonymous entry", ka.String())
	}
	if !strings.HasSuffix(ka.String(), "\nroute:anonymous") || !ra.KeysRequestFields() {
		t.Errorf("anonymous key %q, KeysRequestFields %v; want a route line and true", ka.String(), ra.KeysRequestFields())
	}
	if ka.URL() != ku.URL() {
		t.Errorf("URL scopes differ (%q, %q): a URL purge must cover both", ka.URL(), ku.URL())
	}
}

func TestRouteWithoutConditionsAllocatesNothingWhileConditionalRoutesPrecedeIt(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	cfg := mustParse(t, conditionsConfig)
	r := httptest.NewRequest("GET", "/page?b=1&preview=no", nil)
	r.Header.Set("Cookie", "wordpress_test_cookie=WP; _ga=GA1.2.3")
	if n := testing.AllocsPerRun(100, func() { cfg.Route(r) }); n != 0 {
		t.Errorf("Route allocated %v times per call, want 0", n)
	}
}

// BenchmarkRouteMatch measures choosing the route of a request with
// cookies and a query through routes without conditions: the common path,
// which must allocate nothing.
func BenchmarkRouteMatch(b *testing.B) {
	cfg := mustParse(b, routesConfig)
	r := httptest.NewRequest("GET", "/docs/v1/index.html?preview=true&b=1", nil)
	r.Host = "www.example.org"
	r.Header.Set("Cookie", "wordpress_test_cookie=WP; _ga=GA1.2.3")
	b.ReportAllocs()
	for b.Loop() {
		if cfg.Route(r).Name != "one-level" {
			b.Fatal("wrong route")
		}
	}
}

// BenchmarkRouteMatchWithConditions measures an anonymous WordPress page
// request that passes the cookie and query conditions of three bypass
// routes before reaching the default route.
func BenchmarkRouteMatchWithConditions(b *testing.B) {
	cfg := mustParse(b, conditionsConfig)
	r := httptest.NewRequest("GET", "/2026/11/a-post/?replytocom=3&b=1", nil)
	r.Header.Set("Cookie", "wordpress_test_cookie=WP+Cookie+check; _ga=GA1.2.3; _gid=GA1.2.4")
	b.ReportAllocs()
	for b.Loop() {
		if cfg.Route(r).Name != "default" {
			b.Fatal("wrong route")
		}
	}
}

func TestTheExampleConfigRoutesWordPressAndTenantRequests(t *testing.T) {
	t.Setenv("CACHEGATE_ADMIN_TOKEN", "secret")
	c, err := config.Load("../config.example.yaml")
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	cfg, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host, url, header, value, want string
	}{
		{"blog.example.org", "/2026/11/post/", "", "", "wp-pages"},
		{"blog.example.org", "/2026/11/post/", "Cookie", "wordpress_test_cookie=WP; _ga=1", "wp-pages"},
		{"blog.example.org", "/2026/11/post/", "Cookie", "wordpress_logged_in_0123=admin|1|x", "wp-logged-in"},
		{"blog.example.org", "/2026/11/post/", "Cookie", "comment_author_0123=Joe", "wp-commenter"},
		{"blog.example.org", "/2026/11/post/", "Cookie", "wp-postpass_0123=x", "wp-protected-post"},
		{"blog.example.org", "/?p=12&preview=true", "", "", "wp-preview"},
		{"blog.example.org", "/wp-admin/edit.php", "", "", "wp-admin"},
		{"blog.example.org", "/wp-login.php?action=lostpassword", "", "", "wp-login"},
		{"api.example.org", "/v1/items", "X-Tenant", "acme", "api-tenant"},
		{"api.example.org", "/v1/items", "X-Tenant", "Acme Corp", "api-no-tenant"},
		{"api.example.org", "/v1/items", "", "", "api-no-tenant"},
	} {
		r := httptest.NewRequest("GET", tc.url, nil)
		r.Host = tc.host
		if tc.header != "" {
			r.Header.Set(tc.header, tc.value)
		}
		if got := cfg.Route(r).Name; got != tc.want {
			t.Errorf("GET %s%s with %s %q took route %q, want %q", tc.host, tc.url, tc.header, tc.value, got, tc.want)
		}
	}
}
