package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/proxy"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/store"
)

// stack is a proxy on a memory store before an origin, with the admin
// listener and the PURGE method wired as cachegate serve wires them.
type stack struct {
	proxy, admin *httptest.Server
	origin       *httptest.Server
}

// newStack serves origin behind a proxy configured with extra (YAML
// appended to the origin and the admin token "secret"); reload is the
// admin listener's Reload.
func newStack(t *testing.T, origin http.HandlerFunc, extra string, reload func() ([]string, error)) *stack {
	t.Helper()
	o := httptest.NewServer(origin)
	t.Cleanup(o.Close)
	parsed, err := config.Parse("test.yaml", []byte(fmt.Sprintf("origin: %q\nadmin: {token: secret}\n%s", o.URL, extra)))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := policy.Compile(parsed)
	if err != nil {
		t.Fatal(err)
	}
	rules := func() *policy.Rules { return cfg }
	purger := purge.NewLocal()
	purges := &Purges{Purger: purger, Config: rules, Log: discardLog()}
	p, err := proxy.New(cfg, proxy.Options{Store: store.NewMemory(64 << 20), Purger: purger, PURGE: purges.ServePURGE, Logger: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	ps := httptest.NewServer(p)
	as := httptest.NewServer(New(Options{Config: rules, Purges: purges, Reload: reload, Entries: p}))
	t.Cleanup(func() { ps.Close(); as.Close(); p.Close() })
	return &stack{proxy: ps, admin: as, origin: o}
}

// do sends a request with the admin token (unless token is "") and
// returns the status and the body.
func do(t *testing.T, method, target, host, token, body string, header ...string) (int, string) {
	t.Helper()
	if token != "" {
		header = append(header, "Authorization", "Bearer "+token)
	}
	resp, b := send(t, method, target, host, body, header...)
	return resp.StatusCode, b
}

// get is a GET of path on the proxy with Host host; it reports whether
// the answer was a hit.
func (s *stack) get(t *testing.T, path, host string, header ...string) (hit bool, body string) {
	t.Helper()
	resp, b := send(t, http.MethodGet, s.proxy.URL+path, host, "", header...)
	return strings.Contains(resp.Header.Get("Cache-Status"), "hit"), b
}

// send sends a request with Host host (unless "") and the header fields
// given as name, value pairs, and returns the answer and its body.
func send(t *testing.T, method, target, host, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// echo answers, cacheable for a minute, the request's host, target and
// X-Lang.
func echo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=60")
	if strings.HasPrefix(r.URL.Path, "/vary") {
		w.Header().Set("Vary", "X-Region")
	}
	fmt.Fprintf(w, "%s %s lang=%s region=%s", r.Host, r.RequestURI, r.Header.Get("X-Lang"), r.Header.Get("X-Region"))
}

func TestHostPurgesAndURLPurgesMatchEveryHostSpelling(t *testing.T) {
	s := newStack(t, echo, "", nil)
	for _, h := range []string{"example.com.", "example.com", "EXAMPLE.com."} {
		t.Run("host purge of "+h, func(t *testing.T) {
			s.get(t, "/page", "Example.com.")
			if hit, _ := s.get(t, "/page", "Example.com."); !hit {
				t.Fatal("Example.com. was not stored")
			}
			if code, body := do(t, http.MethodPost, s.admin.URL+"/purge", "", "secret", `{"hosts":["`+h+`"]}`); code != 200 {
				t.Fatalf("purge: %d %s", code, body)
			}
			if hit, _ := s.get(t, "/page", "Example.com."); hit {
				t.Errorf("a host purge of %q left the entry of Host Example.com. served", h)
			}
		})
	}
	for _, u := range []string{"http://example.com./page", "http://example.com/page", "http://EXAMPLE.COM:80/page"} {
		t.Run("URL purge of "+u, func(t *testing.T) {
			s.get(t, "/page", "Example.com.:80")
			if code, body := do(t, http.MethodPost, s.admin.URL+"/purge", "", "secret", `{"urls":["`+u+`"]}`); code != 200 {
				t.Fatalf("purge: %d %s", code, body)
			}
			if hit, _ := s.get(t, "/page", "Example.com.:80"); hit {
				t.Errorf("a URL purge of %q left the entry of Host Example.com.:80 served", u)
			}
		})
	}
}

func TestPURGEOnTheProxyListenerPurgesTheURLWithTheToken(t *testing.T) {
	s := newStack(t, echo, "", nil)
	s.get(t, "/page?b=2&a=1", "example.com")
	if code, _ := do(t, "PURGE", s.proxy.URL+"/page?a=1&b=2", "example.com", "", ""); code != http.StatusUnauthorized {
		t.Errorf("PURGE without the token: %d, want 401", code)
	}
	if hit, _ := s.get(t, "/page?b=2&a=1", "example.com"); !hit {
		t.Fatal("a PURGE without the token purged")
	}
	if code, body := do(t, "PURGE", s.proxy.URL+"/page?a=1&b=2", "EXAMPLE.com", "secret", ""); code != 200 || !strings.Contains(body, `"urls":["example.com/page?a=1\u0026b=2"]`) {
		t.Fatalf("PURGE: %d %s", code, body)
	}
	if hit, _ := s.get(t, "/page?b=2&a=1", "example.com"); hit {
		t.Error("the entry was served after a PURGE of its URL")
	}
}

// entryAnswer is the part of GET /debug/entry's answer the tests read.
type entryAnswer struct {
	Marker *EntryInfo `json:"vary_marker"`
	Entry  EntryInfo  `json:"entry"`
}

func (s *stack) entry(t *testing.T, query string) (int, entryAnswer, string) {
	t.Helper()
	code, body := do(t, http.MethodGet, s.admin.URL+"/debug/entry?"+query, "", "secret", "")
	var out entryAnswer
	if code == 200 {
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
	}
	return code, out, body
}

func TestDebugEntryFindsWhatTheProxyServesThroughItsOwnLookup(t *testing.T) {
	s := newStack(t, echo, `routes:
  - name: keyed
    match: {path: /keyed}
    key: {headers: [X-Lang]}
`, nil)
	// A route that keys a request field: the entry of X-Lang: de is found
	// only with that field, as the proxy finds it.
	s.get(t, "/keyed", "example.com", "X-Lang", "de")
	code, out, body := s.entry(t, "url="+url.QueryEscape("http://Example.com./keyed")+"&h=X-Lang:de")
	if code != 200 || out.Entry.Route != "keyed" || !strings.HasSuffix(out.Entry.Key, "\nX-Lang:de") || out.Entry.Purge != "valid" {
		t.Fatalf("/debug/entry of the keyed route with X-Lang: de: %d %s", code, body)
	}
	if code, _, body := s.entry(t, "url="+url.QueryEscape("http://example.com/keyed")+"&h=X-Lang:fr"); code != 404 {
		t.Errorf("/debug/entry with X-Lang: fr, never stored: %d %s, want 404", code, body)
	}
	// A varying response: the marker, then the variant the headers select
	// (RFC 9111 §4.1).
	s.get(t, "/vary", "example.com", "X-Region", "eu")
	code, out, body = s.entry(t, "url="+url.QueryEscape("http://example.com/vary")+"&h=X-Region:eu")
	if code != 200 || out.Marker == nil || len(out.Marker.Vary) != 1 || out.Entry.Status != 200 {
		t.Fatalf("/debug/entry of a variant: %d %s", code, body)
	}
	if code, _, body := s.entry(t, "url="+url.QueryEscape("http://example.com/vary")+"&h=X-Region:us"); code != 404 {
		t.Errorf("/debug/entry of a variant never stored: %d %s, want 404", code, body)
	}
	// Purged entries say so: the proxy's purger is asked.
	do(t, http.MethodPost, s.admin.URL+"/purge", "", "secret", `{"hosts":["example.com"],"soft":true}`)
	if _, out, body := s.entry(t, "url="+url.QueryEscape("http://example.com/keyed")+"&h=X-Lang:de"); out.Entry.Purge != "soft-purged" {
		t.Errorf("/debug/entry after a soft purge: %s", body)
	}
}

func TestDebugEntryRefusesBadInputAndRequiresTheToken(t *testing.T) {
	s := newStack(t, echo, "", nil)
	for _, q := range []string{"", "url=/relative", "url=ftp://a.example/", "url=http%3A%2F%2F%2Fpath", "url=http://a.example/&h=no-colon", "url=http://a.example/&h=:v"} {
		if code, body := do(t, http.MethodGet, s.admin.URL+"/debug/entry?"+q, "", "secret", ""); code != 400 {
			t.Errorf("/debug/entry?%s: %d %q, want 400", q, code, body)
		}
	}
	if code, _ := do(t, http.MethodGet, s.admin.URL+"/debug/entry?url=http://a.example/", "", "", ""); code != 401 {
		t.Errorf("/debug/entry without the token: %d, want 401", code)
	}
}

func TestReloadAnswersJSONNamingTheOptionsThatNeedARestart(t *testing.T) {
	restart, refusal := []string{"listen", "store.backend"}, error(nil)
	s := newStack(t, echo, "", func() ([]string, error) { return restart, refusal })
	code, body := do(t, http.MethodPost, s.admin.URL+"/reload", "", "secret", "")
	var got ReloadAnswer
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != 200 || !got.Reloaded ||
		strings.Join(got.RestartNeeded, ",") != "listen,store.backend" {
		t.Errorf("POST /reload: %d %s, want 200 listing listen and store.backend", code, body)
	}
	restart = nil
	if code, body := do(t, http.MethodPost, s.admin.URL+"/reload", "", "secret", ""); code != 200 || !strings.Contains(body, `"restart_needed": []`) {
		t.Errorf("POST /reload needing no restart: %d %s, want an empty list", code, body)
	}
	refusal = errors.New("cachegate.yaml:3: routes[0].ttl: not a duration")
	code, body = do(t, http.MethodPost, s.admin.URL+"/reload", "", "secret", "")
	got = ReloadAnswer{}
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != http.StatusUnprocessableEntity || got.Reloaded ||
		!strings.Contains(got.Error, "routes[0].ttl") {
		t.Errorf("POST /reload of a refused config: %d %s, want 422 naming the option", code, body)
	}
	if code, _ := do(t, http.MethodPost, s.admin.URL+"/reload", "", "nope", ""); code != http.StatusUnauthorized {
		t.Errorf("POST /reload with a wrong token: %d, want 401", code)
	}
}

func TestReadyzSaysReadyWithNothingDegradedAndProfilesNeedTheToken(t *testing.T) {
	s := newStack(t, echo, "", nil)
	if code, body := do(t, http.MethodGet, s.admin.URL+"/readyz", "", "", ""); code != 200 || body != "ready\n" {
		t.Errorf("/readyz: %d %q, want ready", code, body)
	}
	if code, _ := do(t, http.MethodGet, s.admin.URL+"/debug/pprof/", "", "", ""); code != http.StatusUnauthorized {
		t.Errorf("/debug/pprof/ without the token: %d, want 401", code)
	}
	if code, _ := do(t, http.MethodGet, s.admin.URL+"/debug/pprof/", "", "secret", ""); code != 200 {
		t.Errorf("/debug/pprof/ with the token: %d, want 200", code)
	}
}

// previewRoutes are two routes for the same URLs that key the query apart:
// requests with X-Preview keep every parameter in their key, the others
// drop utm_* (the default ignore_query).
const previewRoutes = `routes:
  - name: preview
    match:
      path: /p/
      headers: [{name: X-Preview, present: true}]
    key: {headers: [X-Preview], ignore_query: []}
`

func TestAURLPurgeMarksEveryFormARouteStoresTheURLUnder(t *testing.T) {
	const target = "/p/x?a=1&utm_source=mail"
	for _, how := range []string{"POST /purge", "PURGE"} {
		t.Run(how, func(t *testing.T) {
			s := newStack(t, echo, previewRoutes, nil)
			s.get(t, target, "example.com", "X-Preview", "1")
			s.get(t, target, "example.com")
			if hit, _ := s.get(t, target, "example.com", "X-Preview", "1"); !hit {
				t.Fatal("the preview route did not store the URL")
			}
			var code int
			var body string
			if how == "PURGE" {
				code, body = do(t, "PURGE", s.proxy.URL+target, "example.com", "secret", "")
			} else {
				code, body = do(t, http.MethodPost, s.admin.URL+"/purge", "", "secret", `{"urls":["http://example.com`+target+`"]}`)
			}
			if code != 200 {
				t.Fatalf("purge: %d %s", code, body)
			}
			if hit, _ := s.get(t, target, "example.com", "X-Preview", "1"); hit {
				t.Errorf("the preview route's entry (query kept whole) was served after a purge of its URL (answer %s)", body)
			}
			if hit, _ := s.get(t, target, "example.com"); hit {
				t.Errorf("the default route's entry (utm_source dropped) was served after a purge of its URL (answer %s)", body)
			}
		})
	}
}
