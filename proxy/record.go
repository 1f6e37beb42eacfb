package proxy

import (
	"net/http"

	"github.com/cachegate/cachegate/metrics"
)

// record counts the request under its route and cache status, and writes
// the access log line when log.access is on.
func (p *Proxy) record(r *http.Request, x *exchange, w *countingWriter) {
	status := metricStatus(x)
	p.metrics.Request(x.route.Name, status)
	p.metrics.RequestDuration(x.route.Name, status, p.now().Sub(x.start))
	if w != nil {
		p.log.Info("access", "method", r.Method, "uri", r.RequestURI, "host", r.Host,
			"status", w.status, "bytes", w.bytes, "route", x.route.Name, "cache", status,
			"cache_status", x.status.String(), "origin_ms", x.originTime.Milliseconds(),
			"ms", p.now().Sub(x.start).Milliseconds())
	}
}

// metricStatus is the request's cache status among the few the metrics
// tell apart (metrics.CacheHit and the others).
func metricStatus(x *exchange) string {
	s := x.status
	switch {
	case s.Hit && s.Detail != "" && s.Detail != detailRedisDown:
		return metrics.CacheStale // stale-while-revalidate, soft purge, stale-if-error
	case s.Hit:
		return metrics.CacheHit
	case s.Collapsed:
		return metrics.CacheCollapsed
	case s.Fwd == "bypass" || s.Fwd == "method" || s.Fwd == "request":
		return metrics.CacheBypass
	case s.Detail == "origin-error" || s.Detail == detailBackendDown:
		// An answer of cachegate's own (a stale entry served while the
		// backend is down is a hit, above).
		return metrics.CacheError
	case s.Fwd == "stale" && s.FwdStatus == http.StatusNotModified:
		return metrics.CacheRevalidated
	}
	return metrics.CacheMiss
}

// countingWriter notes the status and the bytes written, for the access
// log.
type countingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (c *countingWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	c.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
