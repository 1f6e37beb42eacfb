package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cachegate/cachegate/metrics"
)

// The view of `cachegate stat` is computed from two scrapes of an
// instance's GET /metrics, as Prometheus would compute rate(): the
// counters' increase divided by the time between the scrapes. There is no
// second counting path in the server: what stat shows is what the
// dashboard shows.

// scrape is one reading of an instance's metrics, at a time.
type scrape struct {
	at     time.Time
	series map[string][]series // by metric family name
}

// series is one series of a family: its labels and its value (a counter's
// or gauge's), or its histogram.
type series struct {
	labels map[string]string
	value  float64
	hist   *dto.Histogram
}

// parseScrape reads the text exposition format of r, read at at.
func parseScrape(r io.Reader, at time.Time) (*scrape, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	s := &scrape{at: at, series: make(map[string][]series, len(families))}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			sr := series{labels: make(map[string]string, len(m.GetLabel()))}
			for _, l := range m.GetLabel() {
				// A label value may hold any UTF-8: shown on a
				// terminal, an instance's (or an impostor's) escape
				// sequences would move the cursor or clear the screen.
				sr.labels[l.GetName()] = printable(l.GetValue())
			}
			switch {
			case m.Counter != nil:
				sr.value = m.Counter.GetValue()
			case m.Gauge != nil:
				sr.value = m.Gauge.GetValue()
			case m.Untyped != nil:
				sr.value = m.Untyped.GetValue()
			case m.Histogram != nil:
				sr.hist = m.Histogram
			}
			s.series[name] = append(s.series[name], sr)
		}
	}
	return s, nil
}

// match reports whether labels has every label of want.
func match(labels, want map[string]string) bool {
	for k, v := range want {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// sum is the sum of the series of name that have the labels of want, and
// whether there was any.
func (s *scrape) sum(name string, want map[string]string) (float64, bool) {
	var total float64
	found := false
	for _, sr := range s.series[name] {
		if match(sr.labels, want) {
			total += sr.value
			found = true
		}
	}
	return total, found
}

// values lists the values of label among the series of name, sorted.
func (s *scrape) values(name, label string) []string {
	var vs []string
	for _, sr := range s.series[name] {
		if v, ok := sr.labels[label]; ok && !slices.Contains(vs, v) {
			vs = append(vs, v)
		}
	}
	sort.Strings(vs)
	return vs
}

// window is two scrapes of one instance, the earlier first.
type window struct{ prev, cur *scrape }

// seconds is the time between the scrapes.
func (w window) seconds() float64 { return w.cur.at.Sub(w.prev.at).Seconds() }

// increase is how much the counters of name with the labels of want grew
// between the scrapes. A counter that went down was reset (the instance
// restarted): its whole current value is the increase, as in Prometheus.
func (w window) increase(name string, want map[string]string) float64 {
	cur, _ := w.cur.sum(name, want)
	prev, _ := w.prev.sum(name, want)
	if cur < prev {
		return cur
	}
	return cur - prev
}

// rate is increase per second.
func (w window) rate(name string, want map[string]string) float64 {
	d := w.seconds()
	if d <= 0 {
		return 0
	}
	return w.increase(name, want) / d
}

// latency is what the histogram name with the labels of want saw between
// the scrapes: the mean and the 99th percentile, in seconds; nil when it
// saw nothing.
func (w window) latency(name string, want map[string]string) *Latency {
	cur, prev := mergeHist(w.cur.series[name], want), mergeHist(w.prev.series[name], want)
	if cur.count < prev.count { // reset
		prev = hist{}
	}
	count := cur.count - prev.count
	if count <= 0 {
		return nil
	}
	buckets := make([]bucket, len(cur.buckets))
	for i, b := range cur.buckets {
		buckets[i] = b
		if i < len(prev.buckets) && prev.buckets[i].le == b.le {
			buckets[i].count -= prev.buckets[i].count
		}
	}
	return &Latency{Mean: (cur.sum - prev.sum) / count, P99: quantile(0.99, buckets, count)}
}

// hist is a histogram merged from series with the same buckets.
type hist struct {
	count, sum float64
	buckets    []bucket
}

// bucket is a cumulative bucket: count observations at or under le.
type bucket struct{ le, count float64 }

func mergeHist(ss []series, want map[string]string) hist {
	var h hist
	for _, sr := range ss {
		if sr.hist == nil || !match(sr.labels, want) {
			continue
		}
		h.count += float64(sr.hist.GetSampleCount())
		h.sum += sr.hist.GetSampleSum()
		for i, b := range sr.hist.GetBucket() {
			if i == len(h.buckets) {
				h.buckets = append(h.buckets, bucket{le: b.GetUpperBound()})
			}
			h.buckets[i].count += float64(b.GetCumulativeCount())
		}
	}
	return h
}

// quantile estimates the q quantile of count observations from cumulative
// buckets, interpolating linearly inside the bucket it falls in, as
// PromQL's histogram_quantile does; beyond the last bound it answers that
// bound.
func quantile(q float64, buckets []bucket, count float64) float64 {
	rank := q * count
	lower, below := 0.0, 0.0
	for _, b := range buckets {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				return lower
			}
			if b.count == below {
				return b.le
			}
			return lower + (b.le-lower)*(rank-below)/(b.count-below)
		}
		lower, below = b.le, b.count
	}
	return lower
}

// Stat is what `cachegate stat` shows, over the time between two scrapes
// (-json prints it as is). Rates are per second.
type Stat struct {
	At              time.Time          `json:"at"`
	IntervalSeconds float64            `json:"interval_seconds"`
	Requests        float64            `json:"requests_per_second"`
	HitRatio        *float64           `json:"hit_ratio"` // hit and stale over all; null without requests
	ByCache         map[string]float64 `json:"requests_per_second_by_cache"`
	InFlight        float64            `json:"in_flight"`
	Latency         *Latency           `json:"latency,omitempty"`
	Origin          OriginStat         `json:"origin"`
	Routes          []RouteStat        `json:"routes"`
	Store           []LayerStat        `json:"store"`
	Circuit         string             `json:"circuit,omitempty"`
	Backends        []UpstreamStat     `json:"backends,omitempty"`
	Purges          PurgeStat          `json:"purges"`
}

// Latency is the mean and 99th percentile of a duration, in seconds.
type Latency struct {
	Mean float64 `json:"mean_seconds"`
	P99  float64 `json:"p99_seconds"`
}

// OriginStat is the requests sent to the origins.
type OriginStat struct {
	Requests float64            `json:"requests_per_second"`
	ByClass  map[string]float64 `json:"requests_per_second_by_status_class"`
	Latency  *Latency           `json:"latency,omitempty"`
}

// RouteStat is one route's row.
type RouteStat struct {
	Route    string   `json:"route"`
	Requests float64  `json:"requests_per_second"`
	HitRatio *float64 `json:"hit_ratio"`
	Latency  *Latency `json:"latency,omitempty"`
	Origin   float64  `json:"origin_requests_per_second"`
}

// LayerStat is one store layer's usage.
type LayerStat struct {
	Layer     string             `json:"layer"`
	Bytes     float64            `json:"bytes"`
	Capacity  float64            `json:"capacity_bytes"` // 0: no limit
	Objects   *float64           `json:"objects,omitempty"`
	Evictions map[string]float64 `json:"evictions_per_second"` // by reason
}

// UpstreamStat is one upstream of a backend.
type UpstreamStat struct {
	Backend  string  `json:"backend"`
	Upstream string  `json:"upstream"`
	Healthy  bool    `json:"healthy"`
	Requests float64 `json:"requests_per_second"`
	Errors   float64 `json:"errors_per_second"`
}

// PurgeStat is the purges made and the marks they left.
type PurgeStat struct {
	Items   float64 `json:"items_per_second"` // URLs, tags, prefixes… purged
	Marks   float64 `json:"active_marks"`
	Pending float64 `json:"pending_invalidations"`
}

// hitStates are the cache states counted as served from the cache.
var hitStates = []string{metrics.CacheHit, metrics.CacheStale}

// computeStat is the view of the window w.
func computeStat(w window) Stat {
	st := Stat{
		At:              w.cur.at,
		IntervalSeconds: w.seconds(),
		Requests:        w.rate("cachegate_requests_total", nil),
		ByCache:         map[string]float64{},
		Latency:         w.latency("cachegate_request_duration_seconds", nil),
	}
	for _, c := range w.cur.values("cachegate_requests_total", "cache_status") {
		st.ByCache[c] = w.rate("cachegate_requests_total", map[string]string{"cache_status": c})
	}
	st.HitRatio = hitRatio(w, nil)
	st.InFlight, _ = w.cur.sum("cachegate_requests_in_flight", nil)
	st.Origin = OriginStat{
		Requests: w.rate("cachegate_origin_requests_total", nil),
		ByClass:  map[string]float64{},
		Latency:  w.latency("cachegate_origin_duration_seconds", nil),
	}
	for _, c := range w.cur.values("cachegate_origin_requests_total", "status_class") {
		st.Origin.ByClass[c] = w.rate("cachegate_origin_requests_total", map[string]string{"status_class": c})
	}
	for _, r := range w.cur.values("cachegate_requests_total", "route") {
		route := map[string]string{"route": r}
		st.Routes = append(st.Routes, RouteStat{
			Route: r, Requests: w.rate("cachegate_requests_total", route), HitRatio: hitRatio(w, route),
			Latency: w.latency("cachegate_request_duration_seconds", route),
			Origin:  w.rate("cachegate_origin_requests_total", route),
		})
	}
	st.Store = layers(w)
	for _, s := range w.cur.series["cachegate_store_circuit_state"] {
		if s.value == 1 {
			st.Circuit = s.labels["state"]
		}
	}
	st.Backends = upstreams(w)
	st.Purges.Items = w.rate("cachegate_purges_total", nil)
	st.Purges.Marks, _ = w.cur.sum("cachegate_purge_marks", nil)
	st.Purges.Pending, _ = w.cur.sum("cachegate_purge_invalidations_pending", nil)
	return st
}

// hitRatio is the share of the requests with the labels of want served
// from the cache, nil when there were none.
func hitRatio(w window, want map[string]string) *float64 {
	all := w.increase("cachegate_requests_total", want)
	if all <= 0 {
		return nil
	}
	hits := 0.0
	for _, c := range hitStates {
		l := map[string]string{"cache_status": c}
		for k, v := range want {
			l[k] = v
		}
		hits += w.increase("cachegate_requests_total", l)
	}
	r := hits / all
	return &r
}

// layers is the usage of each store layer the instance reports.
func layers(w window) []LayerStat {
	var ls []LayerStat
	for _, layer := range w.cur.values("cachegate_stored_bytes", "layer") {
		l := map[string]string{"layer": layer}
		st := LayerStat{Layer: layer, Evictions: map[string]float64{}}
		st.Bytes, _ = w.cur.sum("cachegate_stored_bytes", l)
		st.Capacity, _ = w.cur.sum("cachegate_store_capacity_bytes", l)
		if n, ok := w.cur.sum("cachegate_stored_objects", l); ok {
			st.Objects = &n
		}
		for _, reason := range w.cur.values("cachegate_store_evictions_total", "reason") {
			st.Evictions[reason] = w.rate("cachegate_store_evictions_total", map[string]string{"layer": layer, "reason": reason})
		}
		ls = append(ls, st)
	}
	return ls
}

// upstreams is the health and traffic of each upstream, none when the
// config has no backends.
func upstreams(w window) []UpstreamStat {
	var us []UpstreamStat
	for _, s := range w.cur.series["cachegate_upstream_healthy"] {
		l := map[string]string{"backend": s.labels["backend"], "upstream": s.labels["upstream"]}
		us = append(us, UpstreamStat{
			Backend: l["backend"], Upstream: l["upstream"], Healthy: s.value == 1,
			Requests: w.rate("cachegate_upstream_requests_total", l),
			Errors:   w.rate("cachegate_upstream_errors_total", l),
		})
	}
	sort.Slice(us, func(i, j int) bool {
		if us[i].Backend != us[j].Backend {
			return us[i].Backend < us[j].Backend
		}
		return us[i].Upstream < us[j].Upstream
	})
	return us
}
