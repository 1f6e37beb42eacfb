package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// requestBuckets span 50µs (a hit from memory) to 30s (a slow origin),
// in seconds.
var requestBuckets = []float64{
	.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05,
	.1, .25, .5, 1, 2.5, 5, 10, 30,
}

func (m *Metrics) registerRequests() {
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "cachegate_requests_in_flight",
		Help: "Client requests being served.",
	})
	m.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cachegate_request_duration_seconds",
		Help:    "Time from a client request's arrival until its response was written, by route and cache status.",
		Buckets: requestBuckets,
	}, []string{"route", "cache"})
	m.durationChildren.make = func(k labelPair) prometheus.Observer {
		return m.requestDuration.WithLabelValues(k.a, k.b)
	}
	m.reg.MustRegister(m.inFlight, m.requestDuration)
}

// InFlight adds delta (1 when a client request arrives, -1 when it has
// been answered) to the requests being served.
func (m *Metrics) InFlight(delta float64) {
	if m == nil {
		return
	}
	m.inFlight.Add(delta)
}

// RequestDuration records that a client request of route that ended in
// cacheStatus (one of the Cache* constants) took d. route is the
// configured route name, never the URL: each distinct value makes a
// series.
func (m *Metrics) RequestDuration(route, cacheStatus string, d time.Duration) {
	if m == nil {
		return
	}
	m.durationChildren.get(labelPair{route, cacheStatus}).Observe(d.Seconds())
}
