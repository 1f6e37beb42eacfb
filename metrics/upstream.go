package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// upstreamMetrics are the series of backends and their upstreams. Their
// labels are the backend's name and the upstream's host:port, both from
// the config, never from a request.
type upstreamMetrics struct {
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	healthy  *prometheus.GaugeVec
	probes   *prometheus.CounterVec
}

func (m *Metrics) registerUpstreams() {
	labels := []string{"backend", "upstream"}
	m.upstreams = upstreamMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachegate_upstream_requests_total",
			Help: "Requests sent to an upstream, by backend, upstream (host:port) and response status class (error when no response came).",
		}, []string{"backend", "upstream", "status_class"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachegate_upstream_errors_total",
			Help: "Requests an upstream failed (no connection, a timeout, or one of the backend's passive.fail_statuses), by backend and upstream.",
		}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cachegate_upstream_duration_seconds",
			Help:    "Time to an upstream's response headers, by backend and upstream.",
			Buckets: originBuckets,
		}, labels),
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cachegate_upstream_healthy",
			Help: "1 while an upstream gets requests, 0 while probes or passive failures keep it out, by backend and upstream.",
		}, labels),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachegate_upstream_probes_total",
			Help: "Active health probes by backend, upstream and result (good, bad).",
		}, []string{"backend", "upstream", "result"}),
	}
	u := &m.upstreams
	m.reg.MustRegister(u.requests, u.errors, u.duration, u.healthy, u.probes)
}

// UpstreamRequest records one request to upstream of backend: its status
// (0 when no response came), whether it counted as a failure, and the
// time to its response headers.
func (m *Metrics) UpstreamRequest(backend, upstream string, status int, failed bool, d time.Duration) {
	if m == nil {
		return
	}
	m.upstreams.requests.WithLabelValues(backend, upstream, statusClass(status)).Inc()
	if failed {
		m.upstreams.errors.WithLabelValues(backend, upstream).Inc()
	}
	m.upstreams.duration.WithLabelValues(backend, upstream).Observe(d.Seconds())
}

// UpstreamHealthy sets whether upstream of backend gets requests.
func (m *Metrics) UpstreamHealthy(backend, upstream string, healthy bool) {
	if m == nil {
		return
	}
	v := 0.0
	if healthy {
		v = 1
	}
	m.upstreams.healthy.WithLabelValues(backend, upstream).Set(v)
}

// UpstreamProbe counts one active probe of upstream of backend.
func (m *Metrics) UpstreamProbe(backend, upstream string, good bool) {
	if m == nil {
		return
	}
	result := "bad"
	if good {
		result = "good"
	}
	m.upstreams.probes.WithLabelValues(backend, upstream, result).Inc()
}

// UpstreamGone removes the health series of upstream of backend, which a
// reload removed or replaced (the new backends set theirs again).
func (m *Metrics) UpstreamGone(backend, upstream string) {
	if m == nil {
		return
	}
	m.upstreams.healthy.DeleteLabelValues(backend, upstream)
}
