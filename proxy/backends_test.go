package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/metrics"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/store"
)

func TestAnOriginWithAPathIsAskedUnderItAsBefore(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {})
	cfg, err := config.Parse("test.yaml", []byte(fmt.Sprintf("origin: %q\n", o.URL+"/base")))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := policy.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(rules, Options{Store: store.NewMemory(1 << 20), Logger: testutil.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	w := httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://site.test/a/b?x=1", nil))
	if got := o.last(); got.URL.RequestURI() != "/base/a/b?x=1" || got.Host != "site.test" {
		t.Errorf("the origin was asked %s with Host %s, want /base/a/b?x=1 with the client's Host", got.URL.RequestURI(), got.Host)
	}
}

func TestARequestRefusedBecauseItsBackendIsDownIsNoOriginRequest(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError) // every probe fails
	})
	m := metrics.New("test")
	p := newCacheWith(t, o, downBackends(t, o, ""), Options{Metrics: m}).p
	for path, status := range map[string]int{"/down/a": http.StatusServiceUnavailable, "/unreachable/a": http.StatusBadGateway} {
		w := httptest.NewRecorder()
		p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://site.test"+path, nil))
		if w.Code != status {
			t.Fatalf("GET %s: %d, want %d", path, w.Code, status)
		}
	}
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	exposed := w.Body.String()
	for _, want := range []string{
		`cachegate_requests_total{cache_status="error",route="down"} 1`,
		`cachegate_origin_requests_total{route="unreachable",status_class="error"} 1`,
		`cachegate_requests_total{cache_status="error",route="unreachable"} 1`,
	} {
		if !strings.Contains(exposed, want+"\n") {
			t.Errorf("the metrics lack %s", want)
		}
	}
	for _, line := range strings.Split(exposed, "\n") {
		if strings.HasPrefix(line, "cachegate_origin_") && strings.Contains(line, `route="down"`) {
			t.Errorf("a request refused because every upstream was down (nothing sent) counts as an origin request: %s", line)
		}
		if strings.HasPrefix(line, "cachegate_upstream_requests_total") && strings.Contains(line, `backend="sick"`) && !strings.HasSuffix(line, " 0") {
			t.Errorf("a request refused because every upstream was down counts as an upstream request: %s", line)
		}
	}
}
