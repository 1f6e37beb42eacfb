package metrics

import "github.com/prometheus/client_golang/prometheus"

// AccessLogFunc exposes, read from f at each scrape, the access log
// records dropped because its writer could not keep up
// (cachegate_access_log_dropped_total), the viewers of the live stream
// (cachegate_live_viewers) and the records they missed
// (cachegate_live_dropped_total). Call it once.
func (m *Metrics) AccessLogFunc(f func() (logDropped uint64, viewers int, liveDropped uint64)) {
	if m == nil {
		return
	}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cachegate_access_log_dropped_total",
			Help: "Access log records not written: the writer's queue was full or the output failed.",
		}, func() float64 { n, _, _ := f(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cachegate_live_viewers",
			Help: "Viewers of the live request stream (GET /live).",
		}, func() float64 { _, n, _ := f(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cachegate_live_dropped_total",
			Help: "Request records the viewers of the live stream could not take in time, summed over viewers.",
		}, func() float64 { _, _, n := f(); return float64(n) }),
	)
}
