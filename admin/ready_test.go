package admin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cachegate/cachegate/proxy/upstream"
)

func TestReadyzListsEachBackendAndIsDegradedWhenOneHasNoHealthyUpstream(t *testing.T) {
	backends := []upstream.Status{{Backend: "origin", Healthy: 1, Total: 1}, {Backend: "web", Healthy: 2, Total: 3}}
	ready := serveReady(Readiness{Backends: func() []upstream.Status { return backends }}, nil)
	body := func() string {
		w := httptest.NewRecorder()
		ready(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		b, _ := io.ReadAll(w.Result().Body)
		return string(b)
	}
	if got, want := body(), "ready\nbackend origin: 1/1 upstreams healthy\nbackend web: 2/3 upstreams healthy\n"; got != want {
		t.Errorf("/readyz = %q, want %q", got, want)
	}
	backends[1].Healthy = 0
	if got, want := body(), "degraded: backend web has no healthy upstream\nbackend origin: 1/1 upstreams healthy\nbackend web: 0/3 upstreams healthy\n"; got != want {
		t.Errorf("/readyz with web down = %q, want %q", got, want)
	}
}
