package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

// upstream is an origin server the test can kill and restart on the same
// address. It answers its name (body and X-Upstream) with the
// Cache-Control of the query's cc (default no-store), and 200 on
// /healthz.
type upstream struct {
	t    *testing.T
	name string
	addr string
	srv  *httptest.Server
	hits atomic.Int64
}

func startUpstream(t *testing.T, name string) *upstream {
	t.Helper()
	u := &upstream{t: t, name: name}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	u.addr = u.srv.Listener.Addr().String()
	t.Cleanup(func() { u.srv.Close() })
	return u
}

func (u *upstream) URL() string { return "http://" + u.addr }

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		return
	}
	u.hits.Add(1)
	cc := r.URL.Query().Get("cc")
	if cc == "" {
		cc = "no-store"
	}
	w.Header().Set("Cache-Control", cc)
	w.Header().Set("X-Upstream", u.name)
	io.WriteString(w, u.name)
}

// kill closes the upstream's listener and every connection to it: its
// address then refuses connections.
func (u *upstream) kill() { u.srv.Close() }

// restart serves again on the same address.
func (u *upstream) restart() {
	u.t.Helper()
	var ln net.Listener
	testutil.Until(u.t, 10*time.Second, "rebinding "+u.addr, func() (err error) {
		ln, err = net.Listen("tcp", u.addr)
		return err
	})
	u.srv = httptest.NewUnstartedServer(http.HandlerFunc(u.serve))
	u.srv.Listener.Close()
	u.srv.Listener = ln
	u.srv.Start()
}

// backendsSetup is an instance whose default_route goes to backend web,
// made of ups with the YAML of each (after its url) and the backend's
// options; more is appended.
func backendsSetup(t *testing.T, options string, ups []*upstream, more string) setup {
	t.Helper()
	var b strings.Builder
	b.WriteString("backends:\n  - name: web\n    upstreams:\n")
	for _, u := range ups {
		fmt.Fprintf(&b, "      - url: %q\n", u.URL())
	}
	b.WriteString(options)
	b.WriteString("default_route:\n  backend: web\n")
	b.WriteString(more)
	return setup{origin: ups[0].URL(), extra: b.String()}
}

// answeredBy GETs path and returns the upstream that answered, failing
// the test on anything but 200.
func (in *instance) answeredBy(path string) string {
	in.t.Helper()
	resp, body := in.get(path)
	if resp.StatusCode != http.StatusOK {
		in.t.Fatalf("GET %s: %d %q (Cache-Status %s), want 200", path, resp.StatusCode, body, resp.Header.Get("Cache-Status"))
	}
	return resp.Header.Get("X-Upstream")
}

func TestRoundRobinSpreadsRequestsOverTheUpstreamsByWeight(t *testing.T) {
	a, b, c := startUpstream(t, "a"), startUpstream(t, "b"), startUpstream(t, "c")
	s := setup{origin: a.URL(), extra: fmt.Sprintf(`backends:
  - name: web
    upstreams:
      - {url: %q, weight: 2}
      - {url: %q}
      - {url: %q}
default_route:
  backend: web
`, a.URL(), b.URL(), c.URL())}
	in := startInstance(t, s)
	got := map[string]int{}
	for i := range 40 {
		got[in.answeredBy(fmt.Sprintf("/page/%d", i))]++
	}
	if got["a"] != 20 || got["b"] != 10 || got["c"] != 10 {
		t.Errorf("40 requests over weights 2, 1, 1 went %v, want a 20, b 10, c 10", got)
	}
}

func TestAKilledUpstreamIsTakenOutByProbesWithoutAClientError(t *testing.T) {
	a, b := startUpstream(t, "a"), startUpstream(t, "b")
	in := startInstance(t, backendsSetup(t, "    probe: {path: /healthz, interval: 50ms, timeout: 1s, window: 3, threshold: 2}\n    passive: {max_fails: 0}\n", []*upstream{a, b}, ""))
	in.waitReadyz("both upstreams healthy", func(body string) bool { return strings.Contains(body, "backend web: 2/2") })
	b.kill()
	// Every request succeeds: one that picks b finds it refusing and goes
	// to a (nothing was sent, GET is idempotent).
	testutil.Until(t, 20*time.Second, "probes taking b out", func() error {
		in.answeredBy("/page")
		if body := in.readyz(); !strings.Contains(body, "backend web: 1/2 upstreams healthy") {
			return fmt.Errorf("/readyz says %q", body)
		}
		return nil
	})
	for i := range 10 {
		if by := in.answeredBy(fmt.Sprintf("/after/%d", i)); by != "a" {
			t.Fatalf("request %d answered by %s while b is down, want a", i, by)
		}
	}
	b.restart()
	in.waitReadyz("b healthy again", func(body string) bool { return strings.Contains(body, "backend web: 2/2") })
	got := map[string]int{}
	for i := range 10 {
		got[in.answeredBy(fmt.Sprintf("/back/%d", i))]++
	}
	if got["b"] == 0 {
		t.Errorf("after b came back, requests went %v, want b to get its share", got)
	}
	_, metrics := in.admin(http.MethodGet, "/metrics")
	for _, want := range []string{
		`cachegate_upstream_probes_total{backend="web",result="bad",upstream="` + b.addr + `"}`,
		`cachegate_upstream_healthy{backend="web",upstream="` + b.addr + `"} 1`,
		`cachegate_upstream_requests_total{backend="web",status_class="2xx",upstream="` + a.addr + `"}`,
		`cachegate_upstream_duration_seconds_count{backend="web",upstream="` + a.addr + `"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}

func TestAKilledUpstreamIsTakenOutByPassiveFailuresWithoutAClientError(t *testing.T) {
	a, b := startUpstream(t, "a"), startUpstream(t, "b")
	in := startInstance(t, backendsSetup(t, "    passive: {max_fails: 2, fail_timeout: 1h}\n", []*upstream{a, b}, ""))
	b.kill()
	for i := range 10 {
		in.answeredBy(fmt.Sprintf("/page/%d", i)) // fails the test on any error
	}
	if body := in.readyz(); !strings.Contains(body, "backend web: 1/2 upstreams healthy") {
		t.Errorf("/readyz after b refused two requests = %q, want web 1/2", body)
	}
	_, metrics := in.admin(http.MethodGet, "/metrics")
	if want := `cachegate_upstream_errors_total{backend="web",upstream="` + b.addr + `"} 2`; !strings.Contains(metrics, want) {
		t.Errorf("/metrics has no %s: b should have been tried exactly twice (max_fails 2), then left out", want)
	}
}

func TestBackupsServeOnlyWhileEveryPrimaryIsDown(t *testing.T) {
	a, c := startUpstream(t, "a"), startUpstream(t, "c")
	s := setup{origin: a.URL(), extra: fmt.Sprintf(`backends:
  - name: web
    upstreams:
      - {url: %q}
      - {url: %q, backup: true}
default_route:
  backend: web
`, a.URL(), c.URL())}
	in := startInstance(t, s)
	for i := range 5 {
		if by := in.answeredBy(fmt.Sprintf("/page/%d", i)); by != "a" {
			t.Fatalf("request %d answered by %s with the primary up, want a", i, by)
		}
	}
	a.kill()
	for i := range 5 {
		if by := in.answeredBy(fmt.Sprintf("/down/%d", i)); by != "c" {
			t.Fatalf("request %d answered by %s with the primary down, want the backup c", i, by)
		}
	}
}

func TestHashingKeepsEachKeyOnOneUpstream(t *testing.T) {
	ups := []*upstream{startUpstream(t, "a"), startUpstream(t, "b"), startUpstream(t, "c")}
	in := startInstance(t, backendsSetup(t, "    balance: hash\n", ups, ""))
	first := map[string]string{}
	for round := range 3 {
		for i := range 20 {
			path := fmt.Sprintf("/object/%d", i)
			by := in.answeredBy(path)
			if round == 0 {
				first[path] = by
			} else if by != first[path] {
				t.Fatalf("%s went to %s, then to %s", path, first[path], by)
			}
		}
	}
	spread := map[string]bool{}
	for _, by := range first {
		spread[by] = true
	}
	if len(spread) < 2 {
		t.Errorf("20 keys all went to %v, want them spread", spread)
	}
}

func TestEveryUpstreamDownServesStaleWithinTheWindowElse503(t *testing.T) {
	a, b := startUpstream(t, "a"), startUpstream(t, "b")
	in := startInstance(t, backendsSetup(t, "    passive: {max_fails: 1, fail_timeout: 1h}\n", []*upstream{a, b}, `routes:
  - name: short
    match: {path: /short/}
    backend: web
    stale_if_unreachable: 1s
`))
	const long, short = "/long?cc=max-age%3D1", "/short/x?cc=max-age%3D1"
	in.answeredBy(long)
	by := in.answeredBy(short)
	// Read while the entry lives: once past its stale window the store
	// may drop it at any moment.
	var info struct{ Entry struct{ Upstream string } }
	testutil.Until(t, 10*time.Second, "/debug/entry shows the short entry's upstream", func() error {
		_, entry := in.admin(http.MethodGet, "/debug/entry?url=http://site.test/short/x%3Fcc%3Dmax-age%253D1")
		if err := json.Unmarshal([]byte(entry), &info); err != nil || info.Entry.Upstream == "" {
			return fmt.Errorf("/debug/entry = %s", entry)
		}
		return nil
	})
	if want := map[string]string{"a": a.addr, "b": b.addr}[by]; info.Entry.Upstream != want {
		t.Errorf("/debug/entry names upstream %s, want %s (the one that filled it, %s)", info.Entry.Upstream, want, by)
	}
	a.kill()
	b.kill()
	// Both stale a moment after their second of freshness: the long one
	// within stale_if_unreachable (5m), the short one past its 1s.
	testutil.Until(t, 20*time.Second, "the entries served stale with every upstream down", func() error {
		resp, body := in.get(long)
		if cs := resp.Header.Get("Cache-Status"); resp.StatusCode != 200 || !strings.Contains(cs, "detail=backend-down") {
			return fmt.Errorf("GET %s: %d %q Cache-Status %q, want the stale entry with detail=backend-down", long, resp.StatusCode, body, cs)
		}
		return nil
	})
	resp, body := in.get("/never-stored")
	if cs := resp.Header.Get("Cache-Status"); resp.StatusCode != 503 || !strings.Contains(cs, "fwd=uri-miss") || !strings.Contains(cs, "detail=backend-down") ||
		body != "Service Unavailable: every upstream of backend web is down\n" {
		t.Errorf("a miss with every upstream down: %d %q Cache-Status %q, want 503, fwd=uri-miss, detail=backend-down", resp.StatusCode, body, cs)
	}
	testutil.Until(t, 20*time.Second, "the short route's entry past its window", func() error {
		resp, _ := in.get(short)
		if resp.StatusCode != 503 {
			return fmt.Errorf("GET %s: %d, want 503 once past stale_if_unreachable", short, resp.StatusCode)
		}
		return nil
	})
	if body := in.readyz(); !strings.HasPrefix(body, "degraded: backend web has no healthy upstream") {
		t.Errorf("/readyz with every upstream down = %q, want degraded", body)
	}
}

func TestTwoRoutesGoToTwoBackendsByHost(t *testing.T) {
	a, b := startUpstream(t, "a"), startUpstream(t, "b")
	s := setup{origin: a.URL(), extra: fmt.Sprintf(`backends:
  - {name: site-a, upstreams: [{url: %q}]}
  - {name: site-b, upstreams: [{url: %q}], host_header: internal.b.test, path_prefix: /b}
routes:
  - {name: a, match: {host: a.test}, backend: site-a}
  - {name: b, match: {host: b.test}, backend: site-b}
`, a.URL(), b.URL())}
	in := startInstance(t, s)
	var seen atomic.Value
	b.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Host + " " + r.URL.Path)
		b.serve(w, r)
	})
	for host, want := range map[string]string{"a.test": "a", "b.test": "b"} {
		req, _ := http.NewRequest(http.MethodGet, in.URL+"/page", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Upstream"); got != want {
			t.Errorf("Host %s answered by %q, want %s", host, got, want)
		}
	}
	if got := seen.Load(); got != "internal.b.test /b/page" {
		t.Errorf("backend site-b received %v, want Host internal.b.test and path /b/page", got)
	}
}

func TestAReloadSwapsTheBackendsAndRestartsTheirProbes(t *testing.T) {
	a, b := startUpstream(t, "a"), startUpstream(t, "b")
	in := startInstance(t, backendsSetup(t, "", []*upstream{a}, ""))
	if by := in.answeredBy("/page"); by != "a" {
		t.Fatalf("answered by %s before the reload, want a", by)
	}
	s := backendsSetup(t, "    probe: {path: /healthz, interval: 50ms, initial: sick, window: 1, threshold: 1}\n", []*upstream{a, b}, "")
	in.rewriteConfig(s)
	if resp, body := in.admin(http.MethodPost, "/reload"); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /reload: %d %s", resp.StatusCode, body)
	}
	// The new upstreams start sick; the restarted probes make them healthy.
	in.waitReadyz("the reloaded backend's probes", func(body string) bool { return strings.Contains(body, "backend web: 2/2") })
	got := map[string]int{}
	for i := range 10 {
		got[in.answeredBy(fmt.Sprintf("/after/%d", i))]++
	}
	if got["a"] != 5 || got["b"] != 5 {
		t.Errorf("after the reload, requests went %v, want a 5, b 5", got)
	}
}

func TestAProbeURLUnreachableAtStartIsAWarningNotARefusal(t *testing.T) {
	a, b := startUpstream(t, "a"), startUpstream(t, "b")
	b.kill()
	in := startInstance(t, backendsSetup(t, "    probe: {path: /healthz, interval: 50ms, window: 2, threshold: 2}\n", []*upstream{a, b}, ""))
	in.waitLog(`msg="upstream probe" backend=web upstream=` + b.addr + ` good=false`)
	in.waitReadyz("the probes taking b out", func(body string) bool { return strings.Contains(body, "backend web: 1/2") })
	if by := in.answeredBy("/page"); by != "a" {
		t.Errorf("answered by %s, want a", by)
	}
}
