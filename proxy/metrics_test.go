package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/metrics"
)

func TestHostileHostsAndPathsCreateNoMetricSeries(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "ok")
	})
	c := newCache(t, o, `routes:
  - name: api
    match: {path: /api/}
`)
	m := metrics.New("test")
	c.p.metrics = m
	for i := range 200 {
		for _, target := range []string{"/api/evil%d", "/evil%d/x?q=evil", "/api/../evil%d"} {
			req := httptest.NewRequest(http.MethodGet, fmt.Sprintf(target, i), nil)
			req.Host = fmt.Sprintf("evil%d.example", i)
			c.p.ServeHTTP(httptest.NewRecorder(), req)
		}
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	series := 0
	for line := range strings.Lines(rec.Body.String()) {
		if strings.Contains(line, "evil") {
			t.Fatalf("a series carries a client's Host or path: %s", line)
		}
		if strings.HasPrefix(line, "cachegate_request_duration_seconds_count{") {
			series++
		}
	}
	// Two routes (api, default) by at most a few cache states.
	if series == 0 || series > 2*3 {
		t.Errorf("cachegate_request_duration_seconds has %d series after 600 requests of distinct hosts and paths; want 1 to 6 (routes × cache states)", series)
	}
}
