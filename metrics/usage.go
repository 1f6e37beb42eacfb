package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Store layers, the layer label of the store usage metrics: the tiered
// store reports both.
const (
	// LayerMemory is the in-process store (the memory backend, or the
	// tiered store's L1).
	LayerMemory = "memory"
	// LayerRedis is Redis (the redis backend, or the tiered store's L2).
	LayerRedis = "redis"
)

// LayerUsage is what one store layer reports at a scrape.
type LayerUsage struct {
	// Objects is the entries held, or -1 when the layer cannot tell them
	// from other keys (Redis).
	Objects int64
	// Bytes is what the layer uses, Capacity its bound (0: none).
	Bytes, Capacity int64
	// Evicted counts entries dropped to make room and Expired those
	// dropped at expiry, since the layer started.
	Evicted, Expired uint64
}

// usageCollector exposes the usage of each store layer, read from the
// function StoreLayerFunc set for it, once a scrape.
type usageCollector struct {
	mu     sync.Mutex
	layers map[string]func() (LayerUsage, bool)

	objects, bytes, capacity, evictions *prometheus.Desc
}

func newUsageCollector() *usageCollector {
	layer := []string{"layer"}
	return &usageCollector{
		layers: map[string]func() (LayerUsage, bool){},
		objects: prometheus.NewDesc("cachegate_stored_objects",
			"Entries held by the in-process store (layer memory).", layer, nil),
		bytes: prometheus.NewDesc("cachegate_stored_bytes",
			"Bytes used by a store layer: entries as the memory store accounts them; Redis's used_memory (the whole server).", layer, nil),
		capacity: prometheus.NewDesc("cachegate_store_capacity_bytes",
			"A store layer's bound: store.memory.max_bytes; Redis's maxmemory (0: no limit).", layer, nil),
		evictions: prometheus.NewDesc("cachegate_store_evictions_total",
			"Entries a store layer dropped, by reason: size (to make room: LRU) or expired. Redis's are its evicted_keys and expired_keys (the whole server, since it started).",
			[]string{"layer", "reason"}, nil),
	}
}

// StoreLayerFunc makes the store usage metrics of layer (LayerMemory,
// LayerRedis) report what f returns, read at each scrape; f answers false
// when it knows nothing yet (Redis not read). A later call for the same
// layer replaces f.
func (m *Metrics) StoreLayerFunc(layer string, f func() (LayerUsage, bool)) {
	if m == nil {
		return
	}
	m.usage.mu.Lock()
	defer m.usage.mu.Unlock()
	m.usage.layers[layer] = f
}

// Describe implements prometheus.Collector.
func (c *usageCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.objects
	ch <- c.bytes
	ch <- c.capacity
	ch <- c.evictions
}

// Collect implements prometheus.Collector.
func (c *usageCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for layer, f := range c.layers {
		u, ok := f()
		if !ok {
			continue
		}
		if u.Objects >= 0 {
			ch <- prometheus.MustNewConstMetric(c.objects, prometheus.GaugeValue, float64(u.Objects), layer)
		}
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(u.Bytes), layer)
		ch <- prometheus.MustNewConstMetric(c.capacity, prometheus.GaugeValue, float64(u.Capacity), layer)
		ch <- prometheus.MustNewConstMetric(c.evictions, prometheus.CounterValue, float64(u.Evicted), layer, "size")
		ch <- prometheus.MustNewConstMetric(c.evictions, prometheus.CounterValue, float64(u.Expired), layer, "expired")
	}
}

// PurgeMarksFunc exposes cachegate_purge_marks, read from f at each
// scrape: the purge marks this instance holds. Call it once.
func (m *Metrics) PurgeMarksFunc(f func() int) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cachegate_purge_marks",
		Help: "Purge marks held (one per purged scope, as varnishadm ban.list counts bans); each is dropped when no entry it could touch remains.",
	}, func() float64 { return float64(f()) }))
}
