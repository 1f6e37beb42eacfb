package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/cachegate/cachegate/store"
)

// sample returns the value of the series name{labels} gathered from m's
// registry (a histogram's sample count), and whether it exists.
func sample(t *testing.T, m *Metrics, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			if !hasLabels(s, labels) {
				continue
			}
			switch {
			case s.Counter != nil:
				return s.Counter.GetValue(), true
			case s.Gauge != nil:
				return s.Gauge.GetValue(), true
			case s.Histogram != nil:
				return float64(s.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func hasLabels(s *dto.Metric, want map[string]string) bool {
	if len(s.GetLabel()) != len(want) {
		return false
	}
	for _, l := range s.GetLabel() {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}

// expect fails unless the series name{labels} exists with value want.
func expect(t *testing.T, m *Metrics, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := sample(t, m, name, labels)
	if !ok {
		t.Fatalf("%s%v: want %v, series missing", name, labels, want)
	}
	if got != want {
		t.Fatalf("%s%v = %v, want %v", name, labels, got, want)
	}
}

type L = map[string]string

func TestRequestCountsByRouteAndCacheStatus(t *testing.T) {
	m := New("test")
	m.Request("api", CacheHit)
	m.Request("api", CacheHit)
	m.Request("api", CacheMiss)
	m.Request("static", CacheCollapsed)

	expect(t, m, "cachegate_requests_total", L{"route": "api", "cache_status": "hit"}, 2)
	expect(t, m, "cachegate_requests_total", L{"route": "api", "cache_status": "miss"}, 1)
	expect(t, m, "cachegate_requests_total", L{"route": "static", "cache_status": "collapsed"}, 1)
	if n := testutil.CollectAndCount(m.requests); n != 3 {
		t.Fatalf("cachegate_requests_total has %d series, want 3", n)
	}
}

func TestOriginCountsAndTimesByStatusClass(t *testing.T) {
	m := New("test")
	m.Origin("api", 200, 20*time.Millisecond)
	m.Origin("api", 204, 40*time.Millisecond)
	m.Origin("api", 503, time.Second)
	m.Origin("api", 0, 30*time.Second)
	m.Origin("api", 304, time.Millisecond)

	for class, want := range map[string]float64{"2xx": 2, "3xx": 1, "5xx": 1, "error": 1} {
		labels := L{"route": "api", "status_class": class}
		expect(t, m, "cachegate_origin_requests_total", labels, want)
		expect(t, m, "cachegate_origin_duration_seconds", labels, want)
	}
	if _, ok := sample(t, m, "cachegate_origin_requests_total", L{"route": "api", "status_class": "4xx"}); ok {
		t.Fatal("4xx series exists with no 4xx response recorded")
	}
}

func TestOriginDurationBucketsSpan5msTo30s(t *testing.T) {
	if originBuckets[0] != 0.005 || originBuckets[len(originBuckets)-1] != 30 {
		t.Fatalf("origin buckets %v, want 0.005 to 30", originBuckets)
	}
	if storeBuckets[0] != 0.0001 || storeBuckets[len(storeBuckets)-1] != 1 {
		t.Fatalf("store buckets %v, want 0.0001 to 1", storeBuckets)
	}
}

func TestStatusClass(t *testing.T) {
	for status, want := range map[int]string{
		0: "error", 99: "error", 100: "1xx", 200: "2xx", 299: "2xx",
		301: "3xx", 404: "4xx", 599: "5xx", 600: "error", -1: "error",
	} {
		if got := statusClass(status); got != want {
			t.Errorf("statusClass(%d) = %q, want %q", status, got, want)
		}
	}
}

func TestStoreOpCountsErrorsButNotMisses(t *testing.T) {
	m := New("test")
	m.StoreOp("redis", OpGet, nil, time.Millisecond)
	m.StoreOp("redis", OpGet, store.ErrNotFound, time.Millisecond)
	m.StoreOp("redis", OpGet, errors.Join(errors.New("wrapped"), store.ErrNotFound), time.Millisecond)
	m.StoreOp("redis", OpGet, errors.New("i/o timeout"), time.Second)
	m.StoreOp("redis", OpSet, errors.New("i/o timeout"), time.Second)

	get := L{"backend": "redis", "op": "get"}
	set := L{"backend": "redis", "op": "set"}
	expect(t, m, "cachegate_store_operations_total", get, 4)
	expect(t, m, "cachegate_store_errors_total", get, 1)
	expect(t, m, "cachegate_store_duration_seconds", get, 4)
	expect(t, m, "cachegate_store_operations_total", set, 1)
	expect(t, m, "cachegate_store_errors_total", set, 1)
}

func TestCollapsedCountsByRouteAndWarmByResult(t *testing.T) {
	for _, tc := range []struct {
		series, label string
		count         func(*Metrics, string)
	}{
		{"cachegate_collapsed_requests_total", "route", (*Metrics).Collapsed},
		{"cachegate_warm_requests_total", "result", (*Metrics).Warm},
	} {
		m := New("test")
		tc.count(m, "a")
		tc.count(m, "a")
		tc.count(m, "b")
		expect(t, m, tc.series, L{tc.label: "a"}, 2)
		expect(t, m, tc.series, L{tc.label: "b"}, 1)
	}
}

func TestRefreshCountsByKindAndResultFromZero(t *testing.T) {
	m := New("test")
	expect(t, m, "cachegate_refreshes_total", L{"kind": "early", "result": "failed"}, 0)
	m.Refresh(RefreshBackground, RefreshRevalidated)
	m.Refresh(RefreshEarly, RefreshRefreshed)
	m.Refresh(RefreshEarly, RefreshRefreshed)
	expect(t, m, "cachegate_refreshes_total", L{"kind": "background", "result": "revalidated"}, 1)
	expect(t, m, "cachegate_refreshes_total", L{"kind": "early", "result": "refreshed"}, 2)
	if n := testutil.CollectAndCount(m.refreshes); n != 8 {
		t.Fatalf("cachegate_refreshes_total has %d series, want the 8 kind×result pairs", n)
	}
}

func TestPurgeAddsItemsByKind(t *testing.T) {
	m := New("test")
	m.Purge("urls", 3)
	m.Purge("urls", 2)
	m.Purge("all", 1)
	expect(t, m, "cachegate_purges_total", L{"kind": "urls"}, 5)
	expect(t, m, "cachegate_purges_total", L{"kind": "all"}, 1)
	expect(t, m, "cachegate_purges_total", L{"kind": "groups"}, 0)
}

func TestStoreLayerFuncIsReadAtScrapeLabelledByLayerAndReplaceable(t *testing.T) {
	m := New("test")
	if _, ok := sample(t, m, "cachegate_stored_bytes", L{"layer": LayerMemory}); ok {
		t.Fatal("cachegate_stored_bytes exposed before StoreLayerFunc")
	}
	mem := LayerUsage{Objects: 1, Bytes: 100, Capacity: 1 << 20, Evicted: 2, Expired: 3}
	m.StoreLayerFunc(LayerMemory, func() (LayerUsage, bool) { return mem, true })
	redisKnown := false
	m.StoreLayerFunc(LayerRedis, func() (LayerUsage, bool) {
		return LayerUsage{Objects: -1, Bytes: 5000, Capacity: 0, Evicted: 9}, redisKnown
	})
	expect(t, m, "cachegate_stored_objects", L{"layer": LayerMemory}, 1)
	expect(t, m, "cachegate_store_capacity_bytes", L{"layer": LayerMemory}, 1<<20)
	expect(t, m, "cachegate_store_evictions_total", L{"layer": LayerMemory, "reason": "size"}, 2)
	expect(t, m, "cachegate_store_evictions_total", L{"layer": LayerMemory, "reason": "expired"}, 3)
	if _, ok := sample(t, m, "cachegate_stored_bytes", L{"layer": LayerRedis}); ok {
		t.Error("the redis layer is exposed before it was read")
	}
	mem.Objects, mem.Bytes = 7, 4096
	redisKnown = true
	expect(t, m, "cachegate_stored_objects", L{"layer": LayerMemory}, 7)
	expect(t, m, "cachegate_stored_bytes", L{"layer": LayerMemory}, 4096)
	expect(t, m, "cachegate_stored_bytes", L{"layer": LayerRedis}, 5000)
	expect(t, m, "cachegate_store_evictions_total", L{"layer": LayerRedis, "reason": "size"}, 9)
	if _, ok := sample(t, m, "cachegate_stored_objects", L{"layer": LayerRedis}); ok {
		t.Error("cachegate_stored_objects exposed for Redis, which cannot tell entries from other keys")
	}

	m.StoreLayerFunc(LayerMemory, func() (LayerUsage, bool) { return LayerUsage{}, true })
	expect(t, m, "cachegate_stored_bytes", L{"layer": LayerMemory}, 0)
}

func TestRequestDurationAndInFlightAreRecorded(t *testing.T) {
	m := New("test")
	m.InFlight(1)
	m.InFlight(1)
	m.InFlight(-1)
	expect(t, m, "cachegate_requests_in_flight", L{}, 1)
	m.RequestDuration("api", CacheHit, 80*time.Microsecond)
	m.RequestDuration("api", CacheHit, 2*time.Second)
	expect(t, m, "cachegate_request_duration_seconds", L{"route": "api", "cache": "hit"}, 2)
	if n := bucketCount(t, m, "cachegate_request_duration_seconds", .0001); n != 1 {
		t.Errorf("observations of 80µs and 2s at or under 100µs: %d, want 1 (buckets fine enough for hits)", n)
	}
}

func TestPurgeMarksFuncIsReadAtScrape(t *testing.T) {
	m := New("test")
	n := 0
	m.PurgeMarksFunc(func() int { return n })
	n = 4
	expect(t, m, "cachegate_purge_marks", L{}, 4)
}

// bucketCount returns the cumulative count of the histogram name's
// bucket with upper bound le.
func bucketCount(t *testing.T, m *Metrics, name string, le float64) uint64 {
	t.Helper()
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, b := range f.GetMetric()[0].GetHistogram().GetBucket() {
			if b.GetUpperBound() == le {
				return b.GetCumulativeCount()
			}
		}
	}
	t.Fatalf("%s has no bucket le=%v", name, le)
	return 0
}

func TestBreakerStateIsOneOnTheCurrentStateOnly(t *testing.T) {
	m := New("test")
	m.BreakerState(BreakerOpen)
	expect(t, m, "cachegate_store_circuit_state", L{"state": "open"}, 1)
	expect(t, m, "cachegate_store_circuit_state", L{"state": "closed"}, 0)
	expect(t, m, "cachegate_store_circuit_state", L{"state": "half-open"}, 0)

	m.BreakerState(BreakerHalfOpen)
	m.BreakerState(BreakerClosed)
	expect(t, m, "cachegate_store_circuit_state", L{"state": "closed"}, 1)
	expect(t, m, "cachegate_store_circuit_state", L{"state": "open"}, 0)
	expect(t, m, "cachegate_store_circuit_state", L{"state": "half-open"}, 0)
}

func TestBreakerStateConcurrentCallsLeaveOneStateSet(t *testing.T) {
	m := New("test")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				m.BreakerState(breakerStates[i%len(breakerStates)])
			}
		})
	}
	wg.Wait()
	var sum float64
	for _, s := range breakerStates {
		v, _ := sample(t, m, "cachegate_store_circuit_state", L{"state": s})
		sum += v
	}
	if sum != 1 {
		t.Fatalf("states set to 1: %v, want exactly 1", sum)
	}
}

func TestReloadCountsResultsAndStampsSuccess(t *testing.T) {
	m := New("test")
	m.Reload(false)
	expect(t, m, "cachegate_config_reloads_total", L{"result": "failure"}, 1)
	expect(t, m, "cachegate_config_reloads_total", L{"result": "success"}, 0)
	expect(t, m, "cachegate_config_last_reload_success_timestamp_seconds", L{}, 0)

	before := float64(time.Now().UnixNano()) / 1e9
	m.Reload(true)
	expect(t, m, "cachegate_config_reloads_total", L{"result": "success"}, 1)
	got, _ := sample(t, m, "cachegate_config_last_reload_success_timestamp_seconds", L{})
	if got < before-1 || got > before+60 {
		t.Fatalf("last reload success at %v, want about %v", got, before)
	}
}

func TestTheConfigLoadAtStartStampsTheLastReloadSuccess(t *testing.T) {
	m := New("test")
	before := float64(time.Now().UnixNano()) / 1e9
	m.ConfigLoaded()
	got, _ := sample(t, m, "cachegate_config_last_reload_success_timestamp_seconds", L{})
	if got < before-1 || got > before+60 {
		t.Fatalf("last reload success at %v, want about %v", got, before)
	}
	expect(t, m, "cachegate_config_reloads_total", L{"result": "success"}, 0)
}

func TestCertExpirySetsUnixSecondsByName(t *testing.T) {
	m := New("test")
	expiry := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	m.CertExpiry("example.com", expiry)
	expect(t, m, "cachegate_certificate_expiry_timestamp_seconds", L{"name": "example.com"}, float64(expiry.Unix()))
}

func TestHandlerServesBuildInfoRuntimeAndProcess(t *testing.T) {
	m := New("1.2.3")
	m.Request("api", CacheHit)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	for _, line := range []string{
		`cachegate_build_info{goversion="` + runtime.Version() + `",version="1.2.3"} 1`,
		`cachegate_requests_total{cache_status="hit",route="api"} 1`,
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(text, line) {
			t.Errorf("scrape lacks %q; got:\n%s", line, text)
		}
	}
}

func TestRegistriesAreIndependent(t *testing.T) {
	a, b := New("a"), New("b")
	a.Request("api", CacheHit)
	if _, ok := sample(t, b, "cachegate_requests_total", L{"route": "api", "cache_status": "hit"}); ok {
		t.Fatal("a request recorded in one Metrics shows in another")
	}
}

func TestNilMetricsRecordsNothing(t *testing.T) {
	var m *Metrics
	m.Request("api", CacheHit)
	m.Origin("api", 200, time.Millisecond)
	m.StoreOp("redis", OpGet, nil, time.Millisecond)
	m.Collapsed("api")
	m.Refresh(RefreshEarly, RefreshFailed)
	m.Purge("urls", 1)
	m.StoreLayerFunc(LayerMemory, func() (LayerUsage, bool) { return LayerUsage{}, true })
	m.PurgeMarksFunc(func() int { return 0 })
	m.InFlight(1)
	m.RequestDuration("api", CacheHit, time.Millisecond)
	m.BreakerState(BreakerOpen)
	m.Reload(true)
	m.CertExpiry("x", time.Now())
	m.Warm("ok")
	s := store.NewMemory(1 << 20)
	if got := InstrumentStore(s, "memory", nil); got != store.Store(s) {
		t.Fatal("InstrumentStore with nil Metrics did not return the store as is")
	}
}

func TestRequestConcurrentFirstUseCountsEveryCall(t *testing.T) {
	m := New("test")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				m.Request("api", CacheMiss)
			}
		})
	}
	wg.Wait()
	expect(t, m, "cachegate_requests_total", L{"route": "api", "cache_status": "miss"}, 8000)
}

func TestInstrumentStoreRecordsEachOperation(t *testing.T) {
	m := New("test")
	s := InstrumentStore(store.NewMemory(1<<20), "memory", m)
	ctx := context.Background()

	if _, err := s.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of an absent key: err %v, want ErrNotFound", err)
	}
	e := &store.Entry{Status: 200, Body: []byte("x")}
	if err := s.Set(ctx, "k", e, time.Minute); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if got, err := s.Get(ctx, "k"); err != nil || got != e {
		t.Fatalf("Get after Set = %v, %v; want the entry set", got, err)
	}
	if err := s.Delete(ctx, "k", "other"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	get := L{"backend": "memory", "op": "get"}
	expect(t, m, "cachegate_store_operations_total", get, 2)
	expect(t, m, "cachegate_store_errors_total", get, 0)
	expect(t, m, "cachegate_store_duration_seconds", get, 2)
	expect(t, m, "cachegate_store_operations_total", L{"backend": "memory", "op": "set"}, 1)
	expect(t, m, "cachegate_store_operations_total", L{"backend": "memory", "op": "delete"}, 1)
}

// failingStore fails every operation.
type failingStore struct{}

var errDown = errors.New("store down")

func (failingStore) Get(context.Context, string) (*store.Entry, error) { return nil, errDown }
func (failingStore) Set(context.Context, string, *store.Entry, time.Duration) error {
	return errDown
}
func (failingStore) Delete(context.Context, ...string) error { return errDown }
func (failingStore) Close() error                            { return nil }

func TestInstrumentStoreCountsFailuresAndPassesErrorsThrough(t *testing.T) {
	m := New("test")
	s := InstrumentStore(failingStore{}, "redis", m)
	ctx := context.Background()
	if _, err := s.Get(ctx, "k"); err != errDown {
		t.Fatalf("Get: err %v, want %v", err, errDown)
	}
	if err := s.Set(ctx, "k", &store.Entry{Status: 200}, time.Minute); err != errDown {
		t.Fatalf("Set: err %v, want %v", err, errDown)
	}
	if err := s.Delete(ctx, "k"); err != errDown {
		t.Fatalf("Delete: err %v, want %v", err, errDown)
	}
	for _, op := range []string{"get", "set", "delete"} {
		expect(t, m, "cachegate_store_errors_total", L{"backend": "redis", "op": op}, 1)
	}
}

func BenchmarkRequest(b *testing.B) {
	m := New("bench")
	m.Request("api", CacheHit)
	b.ReportAllocs()
	for b.Loop() {
		m.Request("api", CacheHit)
	}
}

func BenchmarkRequestParallel(b *testing.B) {
	m := New("bench")
	m.Request("api", CacheHit)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Request("api", CacheHit)
		}
	})
}

// BenchmarkRequestAsProxyRecords is what the proxy records per client
// request: the count, the latency and the in-flight gauge up and down.
func BenchmarkRequestAsProxyRecords(b *testing.B) {
	m := New("bench")
	b.ReportAllocs()
	for b.Loop() {
		m.InFlight(1)
		m.Request("api", CacheHit)
		m.RequestDuration("api", CacheHit, 80*time.Microsecond)
		m.InFlight(-1)
	}
}

// BenchmarkRequestWithLabelValues is the alternative to the children
// cache that Request uses: resolving the series on every call.
func BenchmarkRequestWithLabelValues(b *testing.B) {
	m := New("bench")
	b.ReportAllocs()
	for b.Loop() {
		m.requests.WithLabelValues("api", CacheHit).Inc()
	}
}

func BenchmarkOrigin(b *testing.B) {
	m := New("bench")
	b.ReportAllocs()
	for b.Loop() {
		m.Origin("api", 200, 20*time.Millisecond)
	}
}

func BenchmarkInstrumentedMemoryGet(b *testing.B) {
	m := New("bench")
	s := InstrumentStore(store.NewMemory(1<<20), "memory", m)
	ctx := context.Background()
	_ = s.Set(ctx, "k", &store.Entry{Status: 200}, time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = s.Get(ctx, "k")
	}
}

func TestUpstreamMetricsCountRequestsFailuresHealthAndProbes(t *testing.T) {
	m := New("test")
	m.UpstreamRequest("web", "10.0.0.1:80", 200, false, 5*time.Millisecond)
	m.UpstreamRequest("web", "10.0.0.1:80", 0, true, time.Second)
	m.UpstreamHealthy("web", "10.0.0.1:80", false)
	m.UpstreamProbe("web", "10.0.0.1:80", true)
	u := map[string]string{"backend": "web", "upstream": "10.0.0.1:80"}
	expect(t, m, "cachegate_upstream_requests_total", map[string]string{"backend": "web", "upstream": "10.0.0.1:80", "status_class": "2xx"}, 1)
	expect(t, m, "cachegate_upstream_requests_total", map[string]string{"backend": "web", "upstream": "10.0.0.1:80", "status_class": "error"}, 1)
	expect(t, m, "cachegate_upstream_errors_total", u, 1)
	expect(t, m, "cachegate_upstream_healthy", u, 0)
	expect(t, m, "cachegate_upstream_probes_total", map[string]string{"backend": "web", "upstream": "10.0.0.1:80", "result": "good"}, 1)
	m.UpstreamGone("web", "10.0.0.1:80")
	if _, ok := sample(t, m, "cachegate_upstream_healthy", u); ok {
		t.Error("the health series of a removed upstream is still exported")
	}
}
