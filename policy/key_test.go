package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/config"
)

const keyConfig = `origin: http://o
routes:
  - name: all-query-ignored
    match: {path: /search}
    key: {ignore_all_query: true}
  - name: nothing-ignored
    match: {path: /raw}
    key: {ignore_query: []}
  - name: own-ignores
    match: {path: /own}
    key: {ignore_query: [session, "ref_*"]}
  - name: varied
    match: {path: /varied}
    key:
      headers: [accept-language, X-Device]
      cookies: [currency, lang]
`

func TestRouteKey(t *testing.T) {
	cfg := mustParse(t, keyConfig)
	for _, tc := range []struct {
		name, scheme, target, host string
		header                     http.Header
		want                       string
	}{
		{"host lower-cased", "http", "/a", "WWW.Example.COM", nil, "http://www.example.com/a"},
		{"scheme lower-cased", "HTTPS", "/a", "h", nil, "https://h/a"},
		{"default http port dropped", "http", "/a", "h:80", nil, "http://h/a"},
		{"default https port dropped", "https", "/a", "h:443", nil, "https://h/a"},
		{"other port kept", "http", "/a", "h:443", nil, "http://h:443/a"},
		{"empty port dropped", "http", "/a", "h:", nil, "http://h/a"},
		{"IPv6 brackets kept", "http", "/a", "[::1]:80", nil, "http://[::1]/a"},
		{"IPv6 port kept", "http", "/a", "[::1]:8080", nil, "http://[::1]:8080/a"},
		{"dot segments resolved", "http", "/a/./b/../c", "h", nil, "http://h/a/c"},
		{"dot segments above the root", "http", "/../../a", "h", nil, "http://h/a"},
		{"encoded dots resolved", "http", "/a/%2e%2E/b", "h", nil, "http://h/b"},
		{"percent hex upper-cased", "http", "/a%2fb%c3%a9", "h", nil, "http://h/a%2Fb%C3%A9"},
		{"unreserved decoded", "http", "/%7Euser/%41%2D", "h", nil, "http://h/~user/A-"},
		{"empty path is /", "http", "", "h", nil, "http://h/"},
		{"query sorted by name", "http", "/q?b=2&a=1&c=3", "h", nil, "http://h/q?a=1&b=2&c=3"},
		{"query sorted by value", "http", "/q?a=2&a=1", "h", nil, "http://h/q?a=1&a=2"},
		{"query escapes normalized", "http", "/q?n=%7e%2f", "h", nil, "http://h/q?n=~%2F"},
		{"empty parameters dropped", "http", "/q?&a=1&&", "h", nil, "http://h/q?a=1"},
		{"lone ? dropped", "http", "/q?", "h", nil, "http://h/q"},
		{"default ignores", "http", "/q?utm_source=x&utm_medium=y&gclid=1&fbclid=2&id=7", "h", nil, "http://h/q?id=7"},
		{"only ignored params leave no ?", "http", "/q?utm_campaign=x", "h", nil, "http://h/q"},
		{"ignored name written encoded", "http", "/q?utm%5Fsource=x&a", "h", nil, "http://h/q?a"},
		{"ignore_all_query", "http", "/search?q=x&page=2", "h", nil, "http://h/search"},
		{"explicit empty ignore list keeps all", "http", "/raw?utm_source=x", "h", nil, "http://h/raw?utm_source=x"},
		{"route's own ignores replace defaults", "http", "/own?session=1&ref_a=2&utm_source=3", "h", nil, "http://h/own?utm_source=3"},
		{"configured headers and cookies", "http", "/varied", "h",
			http.Header{"Accept-Language": {" de ", "en"}, "X-Device": {"mobile"}, "Cookie": {"lang=de; currency=EUR; other=1"}},
			"http://h/varied\nAccept-Language:de,en\nX-Device:mobile\ncookie:currency=EUR\ncookie:lang=de"},
		{"absent headers and cookies are empty", "http", "/varied", "h", nil,
			"http://h/varied\nAccept-Language:\nX-Device:\ncookie:currency=\ncookie:lang="},
		{"unkeyed headers do not enter the key", "http", "/a", "h",
			http.Header{"X-Forwarded-Host": {"evil.example"}, "Accept-Language": {"de"}, "Cookie": {"currency=EUR"}},
			"http://h/a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			u, err := url.ParseRequestURI("/")
			if tc.target != "" {
				u, err = url.ParseRequestURI(tc.target)
			} else {
				u.Path = ""
			}
			if err != nil {
				t.Fatal(err)
			}
			r.URL, r.Host = u, tc.host
			for name, vs := range tc.header {
				r.Header[name] = vs
			}
			got := cfg.Route(r).Key(r, tc.scheme)
			if got.String() != tc.want {
				t.Errorf("key of %s %s (Host %q) = %q, want %q", tc.scheme, tc.target, tc.host, got.String(), tc.want)
			}
		})
	}
}

func TestKeyID(t *testing.T) {
	k := Key{Scheme: "http", Host: "h", Path: "/a"}
	sum := sha256.Sum256([]byte("http://h/a"))
	if got, want := k.ID(), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("ID() = %s, want %s", got, want)
	}
}

func TestKeyForURL(t *testing.T) {
	cfg := mustParse(t, keyConfig)
	k, rt, err := cfg.KeyForURL("HTTP://Example.com:80/varied/../varied?utm_source=x&b=1#frag")
	if err != nil {
		t.Fatal(err)
	}
	if rt.Name != "varied" {
		t.Errorf("route = %q, want varied", rt.Name)
	}
	want := "http://example.com/varied?b=1\nAccept-Language:\nX-Device:\ncookie:currency=\ncookie:lang="
	if k.String() != want {
		t.Errorf("key = %q, want %q", k.String(), want)
	}
	r := httptest.NewRequest("GET", "http://example.com/varied?b=1", nil)
	if got := cfg.Route(r).Key(r, "http"); got != k {
		t.Errorf("a plain GET keys as %q, KeyForURL as %q; want the same", got.String(), k.String())
	}
	for _, bad := range []string{"/relative", "ftp://h/x", "http:///x", "http://h/%zz"} {
		if _, _, err := cfg.KeyForURL(bad); err == nil {
			t.Errorf("KeyForURL(%q) accepted it, want an error", bad)
		}
	}
}

func BenchmarkRouteKey(b *testing.B) {
	cfg := mustParse(b, keyConfig+`  - name: static
    match: {path: "/static/**.js"}
`)
	r := httptest.NewRequest("GET", "/static/app/v2/main.js?v=42&utm_source=news&b=1", nil)
	r.Host = "www.example.com"
	r.Header.Set("Accept-Language", "de")
	b.ReportAllocs()
	for b.Loop() {
		cfg.Route(r).Key(r, "https")
	}
}

// FuzzKey checks that the normalizer never panics and that normalizing a
// normalized path or query changes nothing.
func FuzzKey(f *testing.F) {
	for _, s := range []string{"/a/./b/../c?b=2&a=1", "/%2e%2E/%7e?utm_x=1&&a", "/a%zz/..%2f..?%", "//..//./?x=%2525", "", "*"} {
		f.Add(s, "HOST:80")
	}
	rt := &Route{Route: config.Route{KeyOptions: config.KeyOptions{IgnoreQuery: config.DefaultIgnoreQuery(), Headers: []string{"accept"}, Cookies: []string{"c"}}}}
	f.Fuzz(func(t *testing.T, target, host string) {
		path, query, _ := strings.Cut(target, "?")
		r := &http.Request{Method: "GET", Host: host, URL: &url.URL{Path: path, RawPath: path, RawQuery: query}, Header: http.Header{}}
		k := rt.Key(r, "http")
		if !strings.HasPrefix(k.String(), "http://") {
			t.Fatalf("key %q does not start with the scheme", k.String())
		}
		// The origin receives the keyed path and query: keying what it
		// receives gives the same key.
		decoded, err := url.PathUnescape(k.Path)
		if err != nil {
			t.Fatalf("the keyed path %q is not a valid escaped path: %v", k.Path, err)
		}
		fwd := &http.Request{Method: "GET", Host: k.Host, URL: &url.URL{Path: decoded, RawPath: k.Path, RawQuery: rt.ForwardedQuery(NewTarget(r, "http"), k)}, Header: r.Header}
		if k2 := rt.Key(fwd, "http"); k2.String() != k.String() {
			t.Errorf("the forwarded request %s?%s keys as %q, the client's as %q", k.Path, fwd.URL.RawQuery, k2.String(), k.String())
		}
		p1 := normalizePath(path)
		if p2 := normalizePath(p1); p2 != p1 {
			t.Errorf("normalizePath(%q) = %q, but normalizing that gives %q", path, p1, p2)
		}
		if !strings.HasPrefix(p1, "/") {
			t.Errorf("normalizePath(%q) = %q, want a leading /", path, p1)
		}
		q1 := normalizeQuery(query, rt.KeyOptions.IgnoreQuery)
		if q2 := normalizeQuery(q1, rt.KeyOptions.IgnoreQuery); q2 != q1 {
			t.Errorf("normalizeQuery(%q) = %q, but normalizing that gives %q", query, q1, q2)
		}
	})
}

func TestTypedKeyGivesItsPurgeScopesWithoutParsing(t *testing.T) {
	cfg := mustParse(t, keyConfig)
	k, _, err := cfg.KeyForURL("https://Example.com.:8443/varied/page?b=1&utm_source=x")
	if err != nil {
		t.Fatal(err)
	}
	if k.Scheme != "https" || k.Host != "example.com:8443" || k.Path != "/varied/page" || k.Query != "b=1" ||
		k.Fields != "\nAccept-Language:\nX-Device:\ncookie:currency=\ncookie:lang=" {
		t.Errorf("typed key %+v", k)
	}
	if got, want := k.URL(), "example.com:8443/varied/page?b=1"; got != want {
		t.Errorf("URL() = %q, want %q (scheme and fields left out)", got, want)
	}
	if got := k.PrefixScopes(false); !slices.Equal(got, []string{"example.com:8443/varied/page", "example.com:8443/varied/page/"}) {
		t.Errorf("PrefixScopes(false) = %q", got)
	}
	if got := k.PrefixScopes(true); !slices.Equal(got, []string{"/varied/page", "/varied/page/"}) {
		t.Errorf("PrefixScopes(true) = %q", got)
	}
	if k.VariantID("Accept:a\n") == k.ID() || k.VariantID("Accept:a\n") == k.VariantID("Accept:b\n") {
		t.Error("variant IDs must differ from the primary ID and from each other")
	}
	if k.String() != (Key{Scheme: k.Scheme, Host: k.Host, Path: k.Path, Query: k.Query, Fields: k.Fields}).String() {
		t.Error("a Key built field by field reads as the one KeyForURL built")
	}
}

func TestAKeysURLPrefixesMeetThePrefixScopesOfEveryPrefixCoveringIt(t *testing.T) {
	cfg := mustParse(t, keyConfig)
	k, _, err := cfg.KeyForURL("https://Example.com.:8443/blog/post?b=1")
	if err != nil {
		t.Fatal(err)
	}
	yielded := map[string]bool{}
	for anyHost, oneHost := range URLPrefixes(k.URL()) {
		yielded[anyHost], yielded[oneHost] = true, true
	}
	for _, tc := range []struct {
		prefix string
		covers bool
	}{
		{"/", true},
		{"/blog", true},
		{"/blog/", true},
		{"/blog/post", true},
		{"/blog/post/", false},
		{"/blo", false},
		{"/blog/po", false},
		{"https://example.com:8443/blog", true},
		{"http://EXAMPLE.com.:8443/blog/post", true},
		{"https://example.com/blog/", false},
		{"https://other.example/blog/", false},
	} {
		values, err := PrefixScopes(tc.prefix)
		if err != nil {
			t.Fatalf("PrefixScopes(%q): %v", tc.prefix, err)
		}
		met := slices.ContainsFunc(values, func(v string) bool { return yielded[v] })
		if met != tc.covers {
			t.Errorf("prefix %q (scopes %q) meets the URL prefixes %v of %q: %v, want %v", tc.prefix, values, yielded, k.URL(), met, tc.covers)
		}
	}
	for range URLPrefixes("no-path") {
		t.Error("a URL without a path yielded a prefix")
	}
}

func TestURLPrefixesAllocateNothing(t *testing.T) {
	n := 0
	allocs := testing.AllocsPerRun(100, func() {
		for anyHost, oneHost := range URLPrefixes("example.com/a/b/c?q=1") {
			n += len(anyHost) + len(oneHost)
		}
	})
	if allocs != 0 {
		t.Errorf("URLPrefixes allocated %v times per URL, want 0 (it runs on every hit with prefix marks)", allocs)
	}
}

func TestTheReadableKeyOfAnOldEntryGivesItsURL(t *testing.T) {
	cfg := mustParse(t, keyConfig)
	k, _, err := cfg.KeyForURL("https://Example.com.:8443/varied/page?b=1")
	if err != nil {
		t.Fatal(err)
	}
	if got := URLOfReadableKey(k.String()); got != k.URL() {
		t.Errorf("URLOfReadableKey(%q) = %q, want %q", k.String(), got, k.URL())
	}
}
