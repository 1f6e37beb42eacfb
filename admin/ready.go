package admin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cachegate/cachegate/certs"
	"github.com/cachegate/cachegate/proxy/upstream"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/store"
)

// Readiness is what GET /readyz checks; a nil part is not checked.
type Readiness struct {
	// Redis is pinged; Breaker, its circuit breaker, is named when Redis
	// does not answer.
	Redis   *store.Redis
	Breaker *store.Breaker
	// Marks says whether the purge marks mirrored from Redis are held
	// and every invalidation was written (purge.Redis.Degraded).
	Marks *purge.Redis
	// Backends returns the health of each backend (proxy.Proxy.Backends).
	Backends func() []upstream.Status
}

// pingTimeout bounds /readyz's ping of Redis.
const pingTimeout = time.Second

// degraded says why the instance serves in a degraded way, or "".
func (rd Readiness) degraded(ctx context.Context) string {
	if rd.Redis != nil {
		ctx, cancel := context.WithTimeout(ctx, pingTimeout)
		defer cancel()
		if err := rd.Redis.Ping(ctx); err != nil {
			circuit := ""
			if rd.Breaker != nil {
				circuit = " (store circuit " + rd.Breaker.State() + ")"
			}
			return "Redis unreachable, requests go to the origin" + circuit + ": " + err.Error()
		}
	}
	if rd.Marks != nil {
		return rd.Marks.Degraded()
	}
	return ""
}

// serveReady handles GET /readyz: "ready", or "degraded: " and the
// reasons, then a line per backend with its healthy and total upstreams.
// It answers 200 either way: a degraded instance still serves (requests go
// to the origin, stale entries are served), so a load balancer must keep
// it.
func serveReady(rd Readiness, mgr *certs.Manager) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reasons := []string{}
		if reason := rd.degraded(r.Context()); reason != "" {
			reasons = append(reasons, reason)
		}
		var backends []upstream.Status
		if rd.Backends != nil {
			backends = rd.Backends()
		}
		for _, b := range backends {
			if b.Healthy == 0 {
				reasons = append(reasons, "backend "+b.Backend+" has no healthy upstream")
			}
		}
		defer writeBackends(w, backends)
		if mgr != nil {
			if err := mgr.Err(); err != nil {
				reasons = append(reasons, "certificates: "+err.Error())
			}
		}
		if len(reasons) > 0 {
			fmt.Fprintf(w, "degraded: %s\n", strings.Join(reasons, "; "))
			return
		}
		io.WriteString(w, "ready\n")
	}
}

// writeBackends writes a line per backend: its name and how many of its
// upstreams are healthy.
func writeBackends(w io.Writer, backends []upstream.Status) {
	for _, b := range backends {
		fmt.Fprintf(w, "backend %s: %d/%d upstreams healthy\n", b.Backend, b.Healthy, b.Total)
	}
}
