package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/accesslog"
	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/policy"
)

// liveAdmin is an admin listener (token "secret") with a live hub of max
// viewers of buffer records each.
func liveAdmin(t *testing.T, max, buffer int) (*httptest.Server, *accesslog.Hub) {
	t.Helper()
	cfg := testConfig(t)
	rules := func() *policy.Rules { return cfg }
	hub := accesslog.NewHub(max, buffer)
	srv := httptest.NewServer(New(Options{Config: rules, Purges: &Purges{Config: rules, Log: discardLog()}, Live: hub}))
	t.Cleanup(srv.Close)
	return srv, hub
}

// watch opens GET /live?query with the token; cancel ends it.
func watch(t *testing.T, srv *httptest.Server, query string) (*http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/live?"+query, nil)
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	return resp, cancel
}

func TestLiveNeedsTheAdminToken(t *testing.T) {
	srv, hub := liveAdmin(t, 2, 4)
	resp, err := http.Get(srv.URL + "/live")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || hub.Viewers() != 0 {
		t.Errorf("GET /live without the token: %d with %d viewers, want 401 and none", resp.StatusCode, hub.Viewers())
	}
}

func TestLiveRefusesABadFilterAndViewersPastTheBound(t *testing.T) {
	srv, hub := liveAdmin(t, 1, 4)
	resp, _ := watch(t, srv, "status=6xx")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status=6xx: %d, want 400", resp.StatusCode)
	}
	first, _ := watch(t, srv, "")
	if first.StatusCode != http.StatusOK {
		t.Fatalf("first viewer: %d", first.StatusCode)
	}
	second, _ := watch(t, srv, "")
	if second.StatusCode != http.StatusServiceUnavailable || hub.Viewers() != 1 {
		t.Errorf("a viewer past the bound of 1: %d with %d viewers, want 503 and 1", second.StatusCode, hub.Viewers())
	}
}

func TestLiveStreamsTheRecordsItsFilterSelectsAsJSONLines(t *testing.T) {
	srv, hub := liveAdmin(t, 2, 16)
	resp, _ := watch(t, srv, "cache=miss&prefix=/a/")
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "application/x-ndjson" {
		t.Fatalf("GET /live: %d %q", resp.StatusCode, ct)
	}
	hub.Publish(&accesslog.Record{URI: "/a/1", Cache: "hit"})
	hub.Publish(&accesslog.Record{URI: "/b/1", Cache: "miss"})
	hub.Publish(&accesslog.Record{URI: "/a/2", Cache: "miss", Status: 200})
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var rec accesslog.Record
	if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.URI != "/a/2" || rec.Status != 200 {
		t.Errorf("first line %q (%v), want the record of the miss of /a/2", line, err)
	}
}

// lockedRecorder is a ResponseWriter whose body the handler's goroutine
// and the test's may share.
type lockedRecorder struct {
	h http.Header
	testutil.Buffer
}

func (l *lockedRecorder) Header() http.Header { return l.h }
func (l *lockedRecorder) WriteHeader(int)     {}
func (l *lockedRecorder) Flush()              {}

func TestAViewerIsToldInStreamHowManyRecordsItMissed(t *testing.T) {
	hub := accesslog.NewHub(1, 1)
	v, _ := hub.Watch(accesslog.Filter{})
	defer v.Close()
	for range 4 { // one fits, three are dropped
		hub.Publish(&accesslog.Record{URI: "/x"})
	}
	w := &lockedRecorder{h: http.Header{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		streamLive(w, httptest.NewRequest(http.MethodGet, "/live", nil).WithContext(ctx), v, hub.Done())
		close(done)
	}()
	testutil.Eventually(t, 10*time.Second, "the dropped line", func() bool { return strings.Contains(w.String(), `{"dropped":3}`) })
	cancel()
	<-done
	if !strings.Contains(w.String(), `"uri":"/x"`) {
		t.Errorf("stream = %q, want the record that fitted before the dropped line", w.String())
	}
}

func TestAViewerThatDisconnectsLeavesNoSubscriptionOrGoroutine(t *testing.T) {
	srv, hub := liveAdmin(t, 2, 4)
	before := runtime.NumGoroutine()
	resp, cancel := watch(t, srv, "")
	if resp.StatusCode != http.StatusOK || hub.Viewers() != 1 {
		t.Fatalf("GET /live: %d with %d viewers", resp.StatusCode, hub.Viewers())
	}
	cancel()
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	testutil.Eventually(t, 10*time.Second, "the viewer removed", func() bool { return hub.Viewers() == 0 })
	testutil.Eventually(t, 10*time.Second, "the stream's goroutines gone", func() bool { return runtime.NumGoroutine() <= before })
	hub.Publish(&accesslog.Record{}) // nobody to send to
}

func TestLiveRefusesACacheStateNoRequestEndsIn(t *testing.T) {
	srv, hub := liveAdmin(t, 2, 4)
	resp, _ := watch(t, srv, "cache=hits")
	if resp.StatusCode != http.StatusBadRequest || hub.Viewers() != 0 {
		t.Errorf("cache=hits: %d with %d viewers, want 400 (a typo would watch an empty stream for ever)", resp.StatusCode, hub.Viewers())
	}
	if ok, _ := watch(t, srv, "cache=revalidated"); ok.StatusCode != http.StatusOK {
		t.Errorf("cache=revalidated: %d, want 200", ok.StatusCode)
	}
}
