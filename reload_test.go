package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/collapse"
	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/proxy"
	"github.com/cachegate/cachegate/store"
)

// instance is the part of serve that a reload changes: the proxy, behind
// an httptest server, its config and logger.
type instance struct {
	path    string
	started *config.Config
	origin  string
	proxy   *proxy.Proxy
	srv     *httptest.Server
	current atomic.Pointer[policy.Rules]
	logs    *logSettings
	log     *slog.Logger
	out     *testutil.Buffer
}

// startInstance writes the config "origin: ORIGIN" followed by extra to a
// file and starts an instance on it, as serve does: the same logger, a
// collapsing group of the config's bounds, the proxy's own transport.
func startInstance(t *testing.T, origin, extra string) *instance {
	t.Helper()
	in := &instance{path: filepath.Join(t.TempDir(), "cachegate.yaml"), origin: origin, out: &testutil.Buffer{}}
	in.write(t, extra)
	cfg, err := config.Load(in.path)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := policy.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in.current.Store(rules)
	in.started = cfg
	in.log, in.logs = newLogger(cfg.Log, in.out)
	if err := in.logs.openAccessLog(cfg.AccessLog, in.out, in.out); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.logs.access.Close() })
	group := collapse.New(nil, "", collapseOptions(cfg.Cache.Collapse), in.log)
	t.Cleanup(group.Close)
	in.proxy, err = proxy.New(rules, proxy.Options{Store: store.NewMemory(1 << 20), Collapse: group, Logger: in.log, AccessLog: in.logs.access})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.proxy.Close)
	in.srv = httptest.NewServer(in.proxy)
	t.Cleanup(in.srv.Close)
	return in
}

func (in *instance) write(t *testing.T, extra string) {
	t.Helper()
	if err := os.WriteFile(in.path, []byte("origin: "+in.origin+"\nadmin: {listen: \"\"}\n"+extra), 0o600); err != nil {
		t.Fatal(err)
	}
}

// reload writes the config with extra and reloads it, failing the test
// when the reload is refused.
func (in *instance) reload(t *testing.T, extra string) []string {
	t.Helper()
	in.write(t, extra)
	restart, err := reloadConfig(in.path, in.started, in.proxy, &in.current, in.logs, in.log, nil)
	if err != nil {
		t.Fatalf("reload refused: %v", err)
	}
	return restart
}

// get requests path through the instance; a request that gets no answer
// within a minute fails the test (the minute only bounds a hang).
func (in *instance) get(t *testing.T, path string) *http.Response {
	t.Helper()
	c := &http.Client{Timeout: time.Minute}
	resp, err := c.Get(in.srv.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// hangingOrigin answers nothing until release is called; it counts
// requests. The test calls release in a cleanup registered after the
// instance's, so that it runs first and the requests held end.
func hangingOrigin(t *testing.T) (o *httptest.Server, requests *atomic.Int32, release func()) {
	t.Helper()
	requests = new(atomic.Int32)
	held := make(chan struct{})
	o = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		<-held
	}))
	t.Cleanup(o.Close)
	var once sync.Once
	return o, requests, func() { once.Do(func() { close(held) }) }
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestAReloadOfOriginTimeoutsAppliesToTheNextFill(t *testing.T) {
	o, _, release := hangingOrigin(t)
	in := startInstance(t, o.URL, "origin_timeouts: {response_header: 1h}\n")
	t.Cleanup(release)
	in.reload(t, "origin_timeouts: {response_header: 10ms}\n")
	// With the hour of the first config the request would hang.
	if resp := in.get(t, "/hangs"); resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("GET of an origin that never answers = %d, want 504 after the reloaded response_header", resp.StatusCode)
	}
}

func TestAReloadOfCacheCollapseAppliesToTheNextWait(t *testing.T) {
	o, requests, release := hangingOrigin(t)
	in := startInstance(t, o.URL, "cache: {collapse: {wait: 1h}}\n")
	t.Cleanup(release)
	getInBackground := func() {
		go func() {
			resp, err := http.Get(in.srv.URL + "/page") // held by the origin until the test ends
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	getInBackground()
	waitFor(t, "the first fill to reach the origin", func() bool { return requests.Load() == 1 })
	in.reload(t, "cache: {collapse: {wait: 1ms}}\n")
	// With the hour of the first config this request would wait for the
	// first fill; after the reload it stops waiting and goes to the origin.
	getInBackground()
	waitFor(t, "the second request to go to the origin itself", func() bool { return requests.Load() == 2 })
}

func TestAReloadOfLogLevelFormatAndAccessAppliesToTheLogger(t *testing.T) {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(o.Close)
	in := startInstance(t, o.URL, "log: {level: info, format: text, access: false}\n")
	derived := in.log.With("component", "test") // made before the reload, as the packages' loggers are
	derived.Debug("before")
	in.get(t, "/before")
	in.reload(t, "log: {level: debug, format: json, access: true}\n")
	derived.Debug("after")
	in.get(t, "/after")
	// The access log is written on its own goroutine, after the response.
	waitFor(t, "the access record of /after", func() bool { return strings.Contains(in.out.String(), `"uri":"/after"`) })
	out := in.out.String()
	if strings.Contains(out, `"before"`) || strings.Contains(out, "msg=before") {
		t.Errorf("a debug line was written at level info:\n%s", out)
	}
	if !strings.Contains(out, `{"time":`) || !strings.Contains(out, `"msg":"after","component":"test"`) {
		t.Errorf("after reloading level debug and format json, no JSON debug line from a logger derived before:\n%s", out)
	}
	if strings.Contains(out, "/before") || !strings.Contains(out, `"/after"`) {
		t.Errorf("after reloading log.access, want an access line for /after only:\n%s", out)
	}
}

func TestAReloadThatChangesAnOptionReadAtStartSaysSo(t *testing.T) {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(o.Close)
	in := startInstance(t, o.URL, "listen: \":8080\"\ncache: {name: a}\n")
	restart := in.reload(t, "listen: \":8081\"\nstore: {memory: {max_bytes: 1MiB}}\ncache: {name: b}\n")
	want := []string{"listen", "store.memory.max_bytes"}
	if !slices.Equal(restart, want) {
		t.Errorf("reload returned %q, want %q", restart, want)
	}
	out := in.out.String()
	if !strings.Contains(out, "take effect at the next start") || !strings.Contains(out, "listen, store.memory.max_bytes") {
		t.Errorf("the log does not name the options that need a restart:\n%s", out)
	}
	if got := in.current.Load().Cache.Name; got != "b" {
		t.Errorf("cache.name after the reload = %q, want b: the other options apply", got)
	}
	// Until a restart, every reload says so: the process still runs with
	// the options it started with.
	if restart := in.reload(t, "listen: \":8081\"\nstore: {memory: {max_bytes: 1MiB}}\ncache: {name: c}\n"); !slices.Equal(restart, want) {
		t.Errorf("the next reload of the same file returned %q, want %q again", restart, want)
	}
	if restart := in.reload(t, "listen: \":8080\"\ncache: {name: d}\n"); len(restart) != 0 {
		t.Errorf("a reload back to the options the process started with returned %q", restart)
	}
}

func TestAReloadOfWarmIntervalStartsPeriodicWarming(t *testing.T) {
	var requests atomic.Int32
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Cache-Control", "no-store") // every warm run reaches the origin
	}))
	t.Cleanup(o.Close)
	warm := "warm: {urls: [\"" + o.URL + "/w\"], interval: %s}\n"
	in := startInstance(t, o.URL, strings.Replace(warm, "%s", "0", 1))
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { in.proxy.Warm(ctx, nil); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	waitFor(t, "the warm run at start", func() bool { return requests.Load() == 1 })
	// interval 0 warmed only at start; the reload asks for more runs.
	in.reload(t, strings.Replace(warm, "%s", "1ms", 1))
	waitFor(t, "warm runs after the reload set warm.interval", func() bool { return requests.Load() >= 3 })
}

func TestAReloadMovesTheAccessLogToAFileAndRefusesOneItCannotOpen(t *testing.T) {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(o.Close)
	in := startInstance(t, o.URL, "access_log: {enabled: true}\n")
	in.get(t, "/on-stdout")
	waitFor(t, "the record of /on-stdout on stdout", func() bool { return strings.Contains(in.out.String(), `"uri":"/on-stdout"`) })
	file := filepath.Join(t.TempDir(), "access.log")
	in.reload(t, "access_log: {enabled: true, format: combined, output: "+file+"}\n")
	in.get(t, "/in-file")
	waitFor(t, "the record of /in-file in the file", func() bool {
		b, _ := os.ReadFile(file)
		return strings.Contains(string(b), `"GET /in-file HTTP/1.1" 200`)
	})
	// A link to a missing directory passes validation (its own directory
	// exists) but cannot be opened as the log.
	link := filepath.Join(t.TempDir(), "access.log")
	if err := os.Symlink("/nonexistent/dir/access.log", link); err != nil {
		t.Fatal(err)
	}
	in.write(t, "access_log: {enabled: true, output: "+link+"}\n")
	if _, err := reloadConfig(in.path, in.started, in.proxy, &in.current, in.logs, in.log, nil); err == nil || !strings.Contains(err.Error(), "access log") {
		t.Fatalf("a reload to an access log file that cannot be opened: err %v, want it refused", err)
	}
	in.get(t, "/still-in-file")
	waitFor(t, "the record of /still-in-file in the old file", func() bool {
		b, _ := os.ReadFile(file)
		return strings.Contains(string(b), `"GET /still-in-file HTTP/1.1" 200`)
	})
	if strings.Contains(in.out.String(), "/in-file") {
		t.Errorf("a record went to stdout after the reload moved the log to a file")
	}
}
