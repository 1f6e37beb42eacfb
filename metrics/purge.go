package metrics

import "github.com/prometheus/client_golang/prometheus"

func (m *Metrics) registerPurgeSources() {
	m.purgeSources = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cachegate_purge_operations_total",
		Help: "Purges and invalidation marks taken by this instance, by source (api, webhook, purge-method, unsafe, cache-group).",
	}, []string{"source"})
	m.reg.MustRegister(m.purgeSources)
}

// PurgeSource counts one purge or invalidation mark from source (a
// purge.Source kind).
func (m *Metrics) PurgeSource(source string) {
	if m == nil {
		return
	}
	m.purgeSources.WithLabelValues(source).Inc()
}
