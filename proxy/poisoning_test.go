package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/internal/hostile"
)

// echo is an origin handler that answers, cacheable for a minute, the
// request target and every request field it received, one per line,
// sorted.
func echo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=60")
	var lines []string
	for name, vs := range r.Header {
		lines = append(lines, name+": "+strings.Join(vs, ", "))
	}
	slices.Sort(lines)
	fmt.Fprintf(w, "URI: %s\nHost: %s\n%s\n", r.RequestURI, r.Host, strings.Join(lines, "\n"))
}

// raw sends request, written as is, to the cache and reads the answer.
func (c *cache) raw(t *testing.T, request string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", c.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer to %q: %v", request, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// rawGet is a GET of target with Host host and the given field lines.
func (c *cache) rawGet(t *testing.T, target, host string, fields ...string) (*http.Response, string) {
	t.Helper()
	req := "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n"
	for _, f := range fields {
		req += f + "\r\n"
	}
	return c.raw(t, req+"Connection: close\r\n\r\n")
}

func TestConnectionListedFieldsNeverSelectAStoredResponse(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if r.URL.Path == "/vary" {
			w.Header().Set("Vary", "X-Region")
		}
		lang, _ := r.Cookie("lang")
		fmt.Fprintf(w, "x-lang=%q region=%q cookie=%v", r.Header.Get("X-Lang"), r.Header.Get("X-Region"), lang)
	})
	c := newCache(t, o, `routes:
  - name: keyed
    match: {path: /keyed}
    key: {headers: [X-Lang]}
  - name: cookies
    match: {path: /cookies}
    key: {cookies: [lang]}
`)
	for _, tc := range []struct {
		name, path, field, nominated string
	}{
		{"key.headers", "/keyed", "X-Lang: de", "X-Lang"},
		{"key.cookies", "/cookies", "Cookie: lang=de", "Cookie"},
		{"Vary", "/vary", "X-Region: eu", "X-Region"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The attacker's request: the field is keyed, but Connection
			// removes it before the origin sees it (RFC 9110 §7.6.1).
			_, poisoned := c.rawGet(t, tc.path, "site.test", tc.field, "Connection: keep-alive, "+tc.nominated)
			// A victim sending the field for real must get the page for it.
			resp, body := c.rawGet(t, tc.path, "site.test", tc.field)
			if body == poisoned {
				t.Errorf("RFC 9110 §7.6.1: the request whose %s was Connection-listed stored %q, served to a client that sends %s (Cache-Status %q)",
					tc.nominated, poisoned, tc.field, resp.Header.Get("Cache-Status"))
			}
		})
	}
}

func TestOriginReceivesThePathThatWasKeyed(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "origin saw %s", r.RequestURI)
	})
	c := newCache(t, o, "")
	for _, target := range []string{"/a/evil/%2e%2e/target", "/a/evil/.%2E/target", "/a/evil/%2E./target", "/a/./evil/../target"} {
		_, body := c.rawGet(t, target, "site.test")
		if body != "origin saw /a/target" {
			t.Errorf("GET %s: %q, want the origin to receive the keyed path /a/target (RFC 3986 §5.2.4)", target, body)
		}
	}
	if o.hits.Load() != 1 {
		t.Errorf("origin requests %d, want 1: every spelling of /a/target is one key", o.hits.Load())
	}
	_, body := c.rawGet(t, "/a/target", "site.test")
	if body != "origin saw /a/target" {
		t.Errorf("the clean URL serves %q", body)
	}
}

func TestPathsHidingADotSegmentBehindAnEncodedSlashAreRefused(t *testing.T) {
	o := newOrigin(t, echo)
	c := newCache(t, o, "")
	for _, target := range []string{"/static/..%2Fadmin", "/static/..%2fadmin", "/static%2F..%2Fadmin", "/static/..%5Cadmin", "/static/..\\admin", "/static/..;/admin"} {
		resp, _ := c.rawGet(t, target, "site.test")
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: status %d, want 400 (origins disagree on whether %%2F and \\ separate segments)", target, resp.StatusCode)
		}
	}
	if o.hits.Load() != 0 {
		t.Errorf("origin requests %d, want 0", o.hits.Load())
	}
	if resp, _ := c.rawGet(t, "/static/a%2Fb", "site.test"); resp.StatusCode != http.StatusOK {
		t.Errorf("an encoded slash without dot segments: status %d, want 200", resp.StatusCode)
	}
}

// queryOrigin answers every request, cacheable, with the query it received.
func queryOrigin(t *testing.T) *origin {
	return newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "query %s", r.URL.RawQuery)
	})
}

func TestIgnoredQueryParametersAreNotForwarded(t *testing.T) {
	o := queryOrigin(t)
	c := newCache(t, o, `routes:
  - name: search
    match: {path: /search}
    key: {ignore_all_query: true}
`)
	if _, body := c.get(t, "/page?utm_source=%3Cscript%3E&id=1&gclid=x"); body != "query id=1" {
		t.Errorf("the origin received %q, want only the keyed query id=1", body)
	}
	if _, body := c.get(t, "/page?id=1"); body != "query id=1" {
		t.Errorf("the clean URL serves %q", body)
	}
	if _, body := c.get(t, "/search?q=secret"); body != "query " {
		t.Errorf("ignore_all_query: the origin received %q, want no query", body)
	}
}

func TestForwardIgnoredQueryForwardsTheWholeQuery(t *testing.T) {
	o := queryOrigin(t)
	c := newCache(t, o, `routes:
  - name: reflect
    match: {path: /reflect}
    key: {forward_ignored_query: true}
`)
	if _, body := c.get(t, "/reflect?utm_source=news&id=1"); body != "query id=1&utm_source=news" {
		t.Errorf("forward_ignored_query: the origin received %q, want the whole query, sorted", body)
	}
}

func TestForwardingFieldsFromClientsNeverReachTheOrigin(t *testing.T) {
	o := newOrigin(t, echo)
	c := newCache(t, o, "")
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req := method + " /page HTTP/1.1\r\nHost: site.test\r\nContent-Length: 0\r\n" + strings.Join(hostile.ForwardingFields, "\r\n") + "\r\nConnection: close\r\n\r\n"
		_, body := c.raw(t, req)
		for _, bad := range []string{"evil", "6.6.6.6", "/admin", "DELETE", "6666", "https", ": on"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: a client's forwarding field reached the origin (%q):\n%s", method, bad, body)
			}
		}
		for _, want := range []string{"X-Forwarded-For: 127.0.0.1", "X-Forwarded-Host: site.test", "X-Forwarded-Proto: http"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the origin did not get cachegate's own %q:\n%s", method, want, body)
			}
		}
	}
}

func TestTrustedProxyKeepsTheClientChainAndScheme(t *testing.T) {
	o := newOrigin(t, echo)
	c := newCache(t, o, "trusted_proxies: [127.0.0.0/8]\n")
	_, body := c.rawGet(t, "/page", "site.test", hostile.ForwardingFields...)
	for _, want := range []string{"X-Forwarded-For: 6.6.6.6, 127.0.0.1", "X-Forwarded-Proto: https", "Forwarded: for=6.6.6.6;proto=https, for=127.0.0.1", "X-Forwarded-Host: site.test"} {
		if !strings.Contains(body, want) {
			t.Errorf("from a trusted proxy the origin should get %q:\n%s", want, body)
		}
	}
	for _, bad := range []string{"evil", "/admin", "DELETE", "6666", "X-Real-Ip"} {
		if strings.Contains(body, bad) {
			t.Errorf("even from a trusted proxy, %q is not kept:\n%s", bad, body)
		}
	}
	// The scheme the trusted proxy reports is the key's scheme: an http
	// request does not get the page the origin built for https.
	_, plain := c.rawGet(t, "/page", "site.test", "X-Forwarded-Proto: http")
	if !strings.Contains(plain, "X-Forwarded-Proto: http\n") {
		t.Errorf("an http request through the trusted proxy got the https page:\n%s", plain)
	}
}

func TestRouteDropsAndAllowsRequestFields(t *testing.T) {
	o := newOrigin(t, echo)
	c := newCache(t, o, `routes:
  - name: dropping
    match: {path: /drop}
    request: {drop_fields: [X-Debug]}
  - name: allowlist
    match: {path: /allow}
    key: {cookies: [lang]}
    request: {allow_fields: [X-Device]}
`)
	_, body := c.rawGet(t, "/drop", "site.test", "X-Debug: 1", "X-Other: 2")
	if strings.Contains(body, "X-Debug") || !strings.Contains(body, "X-Other: 2") {
		t.Errorf("drop_fields: want X-Debug dropped and X-Other kept:\n%s", body)
	}
	_, body = c.rawGet(t, "/allow", "site.test", "X-Device: phone", "X-Other: 2", "User-Agent: ua", "Accept-Language: de",
		"Cookie: lang=de; session=secret")
	for _, want := range []string{"X-Device: phone", "Accept-Language: de", "Cookie: lang=de\n", "X-Forwarded-For: 127.0.0.1"} {
		if !strings.Contains(body, want) {
			t.Errorf("allow_fields: want %q to reach the origin:\n%s", want, body)
		}
	}
	for _, bad := range []string{"X-Other", "User-Agent", "session"} {
		if strings.Contains(body, bad) {
			t.Errorf("allow_fields: %q reached the origin:\n%s", bad, body)
		}
	}
}

// deceivableOrigin ignores what follows /account/ and renders the
// logged-in page, as many frameworks' routers do; other paths are CSS.
func deceivableOrigin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=60")
	if strings.HasPrefix(r.URL.Path, "/account/") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<h1>account of %s</h1>", r.Header.Get("X-User"))
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	io.WriteString(w, "body{}")
}

func TestExtensionRoutesStoreOnlyFittingContentTypes(t *testing.T) {
	o := newOrigin(t, deceivableOrigin)
	c := newCache(t, o, `routes:
  - name: assets
    match: {path: "/**.css"}
    mode: override
    ttl: 1h
`)
	resp, _ := c.get(t, "/account/x.css", "X-User", "alice")
	wantStatus(t, resp, "detail=content-type-mismatch")
	if _, body := c.get(t, "/account/x.css", "X-User", "mallory"); strings.Contains(body, "alice") {
		t.Errorf("cache deception: alice's page was stored and served to another client: %q", body)
	}
	c.get(t, "/site.css")
	if resp, _ := c.get(t, "/site.css"); !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
		t.Errorf("a text/css response for a .css route is stored: Cache-Status %q", resp.Header.Get("Cache-Status"))
	}
}

func TestDeceptionCheckFalseStoresAnyContentType(t *testing.T) {
	o := newOrigin(t, deceivableOrigin)
	c := newCache(t, o, `routes:
  - name: trusting
    match: {path: "/**.css"}
    deception_check: false
    mode: override
    ttl: 1h
`)
	c.get(t, "/account/y.css", "X-User", "alice")
	if _, body := c.get(t, "/account/y.css", "X-User", "bob"); !strings.Contains(body, "alice") {
		t.Errorf("deception_check: false: want the response stored as on any route, got %q", body)
	}
}
