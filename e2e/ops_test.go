package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

// admin sends an admin request with the test token.
func (in *instance) admin(method, path string) (*http.Response, string) {
	in.t.Helper()
	req, err := http.NewRequest(method, in.AdminURL+path, nil)
	if err != nil {
		in.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer test-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	return resp, readAll(resp)
}

// rewriteConfig replaces the instance's config file, keeping its
// listeners, with s.
func (in *instance) rewriteConfig(s setup) {
	in.t.Helper()
	listen := strings.TrimPrefix(in.URL, "http://")
	admin := strings.TrimPrefix(in.AdminURL, "http://")
	if err := os.WriteFile(in.cfgPath, []byte(s.yaml(listen, admin)), 0o600); err != nil {
		in.t.Fatal(err)
	}
}

func (in *instance) waitLog(substr string) {
	in.t.Helper()
	testutil.Eventually(in.t, 30*time.Second, fmt.Sprintf("the log says %q", substr), func() bool {
		return strings.Contains(in.log.String(), substr)
	})
}

func TestSIGHUPReloadsAndABrokenConfigKeepsTheOld(t *testing.T) {
	o := startOrigin(t)
	route := func(ttl string) string {
		return "routes:\n  - name: fixed\n    match: {path: /time}\n    mode: override\n    ttl_jitter: 0\n    ttl: " + ttl + "\n"
	}
	s := setup{origin: o.URL, extra: route("1h")}
	in := startInstance(t, s)
	resp, _ := in.get("/time")
	assertCacheStatus(t, resp.Header.Get("Cache-Status"), "ttl=3599")

	s.extra = route("2h")
	in.rewriteConfig(s)
	in.cmd.Process.Signal(syscall.SIGHUP)
	in.waitLog("config reloaded")
	in.purge(`{"all":true}`)
	resp, _ = in.get("/time")
	assertCacheStatus(t, resp.Header.Get("Cache-Status"), "ttl=7199")

	s.extra = route("not-a-duration")
	in.rewriteConfig(s)
	in.cmd.Process.Signal(syscall.SIGHUP)
	in.waitLog("reload refused")
	in.purge(`{"all":true}`)
	resp, _ = in.get("/time")
	assertCacheStatus(t, resp.Header.Get("Cache-Status"), "ttl=7199")
	if resp, body := in.admin(http.MethodPost, "/reload"); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "routes[0].ttl") {
		t.Errorf("POST /reload of a broken config: %d %q, want 422 naming the option", resp.StatusCode, body)
	}
	if got := in.metric(`cachegate_config_reloads_total{result="failure"}`); got != "2" {
		t.Errorf("failed reloads counted %q, want 2 (SIGHUP and POST /reload)", got)
	}
	if got := in.metric(`cachegate_config_reloads_total{result="success"}`); got != "1" {
		t.Errorf("successful reloads counted %q, want 1", got)
	}
}

func TestAReloadThatChangesAnOptionReadAtStartNamesItInTheAnswerAndTheLog(t *testing.T) {
	o := startOrigin(t)
	s := setup{origin: o.URL, extra: "cache: {name: before}\n"}
	in := startInstance(t, s)
	s.extra = "cache: {name: after}\nclient_limits: {max_header_bytes: 1MiB}\n"
	in.rewriteConfig(s)
	resp, body := in.admin(http.MethodPost, "/reload")
	var answer struct {
		Reloaded      bool     `json:"reloaded"`
		RestartNeeded []string `json:"restart_needed"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &answer) != nil || !answer.Reloaded ||
		!slices.Equal(answer.RestartNeeded, []string{"client_limits.max_header_bytes"}) {
		t.Errorf("POST /reload changing client_limits.max_header_bytes: %d %q, want 200 naming it as needing a restart", resp.StatusCode, body)
	}
	in.waitLog("client_limits.max_header_bytes")
	resp, _ = in.get("/time")
	if cs := resp.Header.Get("Cache-Status"); !strings.HasPrefix(cs, "after;") {
		t.Errorf("Cache-Status after the reload = %q, want the reloaded cache.name: the other options apply", cs)
	}
}

func TestSIGTERMFinishesInFlightRequestsAndRefusesNewOnes(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL})
	var wg sync.WaitGroup
	var status int
	var body string
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp, err := http.Get(in.URL + "/slow/1000/inflight")
		if err != nil {
			body = err.Error()
			return
		}
		defer resp.Body.Close()
		status, body = resp.StatusCode, readAll(resp)
	}()
	time.Sleep(300 * time.Millisecond)
	in.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(100 * time.Millisecond)
	if _, err := http.Get(in.URL + "/max-age/60/new"); err == nil {
		t.Error("a new connection was accepted after SIGTERM")
	}
	wg.Wait()
	if status != 200 || !strings.Contains(body, "/slow/1000/inflight") {
		t.Errorf("the in-flight request got %d %q, want it completed", status, body)
	}
	<-in.exited
	in.cmd = nil
}

func TestReadyzSaysDegradedWithRedisDownAndRequestsSucceed(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL, backend: "redis", prefix: testutil.UniquePrefix(t)})
	// The purge subscription comes up shortly after the listeners.
	in.waitReadyz("ready", isReady)
	testutil.Redis().Stop()
	defer testutil.Redis().Restart()
	_, body := in.admin(http.MethodGet, "/readyz")
	if !strings.HasPrefix(body, "degraded") || !strings.Contains(body, "Redis unreachable") {
		t.Errorf("/readyz with Redis stopped = %q, want degraded with the reason", body)
	}
	for i := range 5 {
		if resp, body := in.get("/max-age/60/down"); resp.StatusCode != 200 {
			t.Errorf("request %d with Redis stopped: %d %q", i, resp.StatusCode, body)
		}
	}
}

func TestDebugEntryShowsTheStoredMetadata(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL})
	in.get("/max-age/60/inspect?tag=t1")
	resp, body := in.admin(http.MethodGet, "/debug/entry?url="+"http://site.test/max-age/60/inspect%3Ftag%3Dt1")
	if resp.StatusCode != 200 {
		t.Fatalf("/debug/entry: %d %s", resp.StatusCode, body)
	}
	var out struct {
		Entry struct {
			Key       string
			Freshness string `json:"freshness_lifetime"`
			ETag      string
			Tags      []string
			Size      int64
		}
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	e := out.Entry
	if e.Key != "http://site.test/max-age/60/inspect?tag=t1" || e.Freshness != "1m0s" || e.ETag == "" || len(e.Tags) != 1 || e.Size <= 0 {
		t.Errorf("entry metadata %+v (%s)", e, body)
	}
	if resp, _ := in.admin(http.MethodGet, "/debug/entry?url=http://site.test/never"); resp.StatusCode != 404 {
		t.Errorf("/debug/entry of an unknown URL: %d, want 404", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, in.AdminURL+"/debug/entry?url=http://site.test/", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("/debug/entry without token: %v %v, want 401", resp.StatusCode, err)
	}
}

// metric returns the value of the sample line of /metrics that starts
// with series, or "" when there is none.
func (in *instance) metric(series string) string {
	in.t.Helper()
	_, body := in.admin(http.MethodGet, "/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

func TestMetricsCountHitsMissesAndPurges(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL, extra: `routes:
  - name: pages
    match: {path: /max-age/}
`})
	in.get("/max-age/60/m")
	in.get("/max-age/60/m")
	in.purge(`{"tags":["x"],"prefixes":["/a/"]}`)
	for series, want := range map[string]string{
		`cachegate_requests_total{cache_status="miss",route="pages"}`:       "1",
		`cachegate_requests_total{cache_status="hit",route="pages"}`:        "1",
		`cachegate_origin_requests_total{route="pages",status_class="2xx"}`: "1",
		`cachegate_purges_total{kind="tags"}`:                               "1",
		`cachegate_purges_total{kind="prefixes"}`:                           "1",
		`cachegate_stored_objects{layer="memory"}`:                          "1",
	} {
		if got := in.metric(series); got != want {
			t.Errorf("%s = %q, want %q", series, got, want)
		}
	}
	if in.metric(`go_goroutines`) == "" {
		t.Error("the Go runtime collectors are missing")
	}
}
