package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/hostile"
	"github.com/cachegate/cachegate/internal/testutil"
)

// echoOrigin answers every request, cacheable for a minute, with the
// request target, the Host and every request field it received, one per
// line and sorted, so that a test sees exactly what reached the origin.
// Paths under /account/ answer a logged-in HTML page whatever follows, as
// many frameworks' routers do.
type echoOrigin struct {
	URL  string
	hits atomic.Int64
}

func startEchoOrigin(t *testing.T) *echoOrigin {
	t.Helper()
	o := &echoOrigin{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=60")
		if strings.HasPrefix(r.URL.Path, "/account/") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, "<h1>account of %s</h1>", r.Header.Get("X-User"))
			return
		}
		if strings.HasSuffix(r.URL.Path, ".css") {
			w.Header().Set("Content-Type", "text/css")
		}
		var lines []string
		for name, vs := range r.Header {
			lines = append(lines, name+": "+strings.Join(vs, ", "))
		}
		slices.Sort(lines)
		fmt.Fprintf(w, "URI: %s\nHost: %s\n%s\n", r.RequestURI, r.Host, strings.Join(lines, "\n"))
	}))
	t.Cleanup(srv.Close)
	o.URL = srv.URL
	return o
}

// raw writes request as is to the instance's proxy listener and reads the
// answer: what curl --path-as-is or a hostile client sends.
func (in *instance) raw(request string) (*http.Response, string) {
	in.t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(in.URL, "http://"), 5*time.Second)
	if err != nil {
		in.t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		in.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		in.t.Fatalf("reading the answer to %q: %v", request, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// rawRequest is method target with Host host and the given field lines.
func (in *instance) rawRequest(method, target, host string, fields ...string) (*http.Response, string) {
	in.t.Helper()
	req := method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n"
	if method == http.MethodPost {
		req += "Content-Length: 0\r\n"
	}
	for _, f := range fields {
		req += f + "\r\n"
	}
	return in.raw(req + "Connection: close\r\n\r\n")
}

func TestForwardingFieldsOfAnUntrustedClientNeverReachTheOrigin(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := startEchoOrigin(t)
	in := startInstance(t, setup{origin: o.URL})
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		for _, field := range hostile.ForwardingFields {
			_, body := in.rawRequest(method, "/page-"+strings.ToLower(method), siteHost, field)
			value := strings.TrimSpace(field[strings.IndexByte(field, ':')+1:])
			for _, part := range []string{"evil", "6.6.6.6", "/admin", "DELETE", "6666", "https", ": on"} {
				if strings.Contains(value, part) && strings.Contains(body, part) {
					t.Errorf("%s with %q: the client's value reached the origin:\n%s", method, field, body)
				}
			}
		}
		_, body := in.rawRequest(method, "/own-"+strings.ToLower(method), siteHost, hostile.ForwardingFields...)
		for _, want := range []string{"X-Forwarded-For: 127.0.0.1\n", "X-Forwarded-Host: " + siteHost + "\n", "X-Forwarded-Proto: http\n"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the origin should get cachegate's own %q:\n%s", method, strings.TrimSpace(want), body)
			}
		}
	}
}

func TestForwardingFieldsOfATrustedProxyAreKept(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := startEchoOrigin(t)
	in := startInstance(t, setup{origin: o.URL, extra: "trusted_proxies: [127.0.0.1/32]\n"})
	_, body := in.rawRequest(http.MethodGet, "/page", siteHost, hostile.ForwardingFields...)
	for _, want := range []string{
		"X-Forwarded-For: 6.6.6.6, 127.0.0.1\n",
		"X-Forwarded-Proto: https\n",
		"Forwarded: for=6.6.6.6;proto=https, for=127.0.0.1\n",
		"X-Forwarded-Host: " + siteHost + "\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("from a trusted proxy the origin should get %q:\n%s", strings.TrimSpace(want), body)
		}
	}
	for _, bad := range []string{"evil", "/admin", "DELETE", "6666", "X-Real-Ip", "Cf-Connecting-Ip"} {
		if strings.Contains(body, bad) {
			t.Errorf("even from a trusted proxy %q is not kept (only the client chain and scheme are):\n%s", bad, body)
		}
	}
}

func TestDotSegmentsReachTheOriginResolvedAndNeverPinTheCleanURL(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := startEchoOrigin(t)
	in := startInstance(t, setup{origin: o.URL})
	for _, target := range []string{"/a/evil/%2e%2e/target", "/a/evil/.%2E/target", "/a/./evil/../target"} {
		_, body := in.rawRequest(http.MethodGet, target, siteHost)
		if !strings.HasPrefix(body, "URI: /a/target\n") {
			t.Errorf("GET %s: the origin received another path than the keyed /a/target:\n%s", target, body)
		}
	}
	resp, body := in.rawRequest(http.MethodGet, "/a/target", siteHost)
	if !strings.HasPrefix(body, "URI: /a/target\n") || !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
		t.Errorf("the clean URL: Cache-Status %q, body:\n%s\nwant a hit on what the origin answered for /a/target", resp.Header.Get("Cache-Status"), body)
	}
	before := o.hits.Load()
	for _, target := range []string{"/static/..%2Fadmin", "/static%2F..%2Fadmin", "/static/..%5Cadmin"} {
		if resp, _ := in.rawRequest(http.MethodGet, target, siteHost); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: status %d, want 400 (a dot segment behind an encoded / or \\)", target, resp.StatusCode)
		}
	}
	if n := o.hits.Load() - before; n != 0 {
		t.Errorf("refused paths reached the origin %d times", n)
	}
}

func TestConnectionListedFieldsNeverSelectAVariant(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := startEchoOrigin(t)
	in := startInstance(t, setup{origin: o.URL, backend: "redis", prefix: testutil.UniquePrefix(t), extra: `routes:
  - name: lang
    match: {path: /lang}
    key: {headers: [X-Lang], cookies: [currency]}
`})
	in.rawRequest(http.MethodGet, "/lang", siteHost, "X-Lang: de", "Cookie: currency=EUR", "Connection: keep-alive, X-Lang, Cookie")
	_, body := in.rawRequest(http.MethodGet, "/lang", siteHost, "X-Lang: de", "Cookie: currency=EUR")
	if !strings.Contains(body, "X-Lang: de\n") || !strings.Contains(body, "Cookie: currency=EUR\n") {
		t.Errorf("the de/EUR variant holds a page made without X-Lang and Cookie:\n%s", body)
	}
}

func TestIgnoredQueryParametersNeverReachTheOrigin(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := startEchoOrigin(t)
	in := startInstance(t, setup{origin: o.URL})
	_, body := in.rawRequest(http.MethodGet, "/landing?utm_source=%3Cscript%3E&gclid=x&fbclid=y&id=7", siteHost)
	if !strings.HasPrefix(body, "URI: /landing?id=7\n") {
		t.Errorf("the origin received the ignored parameters:\n%s", body)
	}
}

func TestCacheDeceptionPageIsPassedNeverStored(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := startEchoOrigin(t)
	in := startInstance(t, setup{origin: o.URL, backend: "redis", prefix: testutil.UniquePrefix(t), extra: `routes:
  - name: styles
    match: {path: "/**.css"}
    mode: override
    ttl: 1h
`})
	resp, _ := in.rawRequest(http.MethodGet, "/account/x.css", siteHost, "X-User: alice")
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "detail=content-type-mismatch") {
		t.Errorf("Cache-Status %q, want detail=content-type-mismatch", cs)
	}
	if _, body := in.rawRequest(http.MethodGet, "/account/x.css", siteHost, "X-User: mallory"); strings.Contains(body, "alice") {
		t.Errorf("alice's page was stored for /account/x.css and served to another client: %q", body)
	}
	in.rawRequest(http.MethodGet, "/site.css", siteHost)
	if resp, _ := in.rawRequest(http.MethodGet, "/site.css", siteHost); !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
		t.Errorf("a text/css answer for a .css route should be stored: Cache-Status %q", resp.Header.Get("Cache-Status"))
	}
}

func TestHostPurgeOfEverySpellingPurgesATrailingDotHost(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := startEchoOrigin(t)
	in := startInstance(t, setup{origin: o.URL, backend: "redis", prefix: testutil.UniquePrefix(t)})
	for _, purged := range []string{"example.com.", "example.com"} {
		in.rawRequest(http.MethodGet, "/page", "Example.com.")
		if resp, _ := in.rawRequest(http.MethodGet, "/page", "Example.com."); !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
			t.Fatalf("Example.com. was not stored: Cache-Status %q", resp.Header.Get("Cache-Status"))
		}
		if resp, body := in.purge(`{"hosts": ["` + purged + `"]}`); resp.StatusCode != http.StatusOK {
			t.Fatalf("purge: %d %s", resp.StatusCode, body)
		}
		if resp, _ := in.rawRequest(http.MethodGet, "/page", "Example.com."); strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
			t.Errorf("a host purge of %q left the entry of Host Example.com. served: Cache-Status %q", purged, resp.Header.Get("Cache-Status"))
		}
	}
}
