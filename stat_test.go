package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/accesslog"
)

// scrapeOf parses text as a scrape taken at t0 + offset.
func scrapeOf(t *testing.T, offset time.Duration, text string) *scrape {
	t.Helper()
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	s, err := parseScrape(strings.NewReader(text), t0.Add(offset))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

const statBefore = `# TYPE cachegate_requests_total counter
cachegate_requests_total{route="pages",cache_status="hit"} 100
cachegate_requests_total{route="pages",cache_status="miss"} 10
cachegate_requests_total{route="api",cache_status="bypass"} 50
# TYPE cachegate_origin_requests_total counter
cachegate_origin_requests_total{route="pages",status_class="2xx"} 10
cachegate_origin_requests_total{route="api",status_class="5xx"} 50
# TYPE cachegate_request_duration_seconds histogram
cachegate_request_duration_seconds_bucket{route="pages",cache="hit",le="0.001"} 100
cachegate_request_duration_seconds_bucket{route="pages",cache="hit",le="0.01"} 100
cachegate_request_duration_seconds_bucket{route="pages",cache="hit",le="+Inf"} 100
cachegate_request_duration_seconds_sum{route="pages",cache="hit"} 0.05
cachegate_request_duration_seconds_count{route="pages",cache="hit"} 100
# TYPE cachegate_store_evictions_total counter
cachegate_store_evictions_total{layer="memory",reason="size"} 4
# TYPE cachegate_stored_bytes gauge
cachegate_stored_bytes{layer="memory"} 1000
`

const statAfter = `# TYPE cachegate_requests_total counter
cachegate_requests_total{route="pages",cache_status="hit"} 280
cachegate_requests_total{route="pages",cache_status="miss"} 30
cachegate_requests_total{route="api",cache_status="bypass"} 50
# TYPE cachegate_origin_requests_total counter
cachegate_origin_requests_total{route="pages",status_class="2xx"} 30
cachegate_origin_requests_total{route="api",status_class="5xx"} 50
# TYPE cachegate_request_duration_seconds histogram
cachegate_request_duration_seconds_bucket{route="pages",cache="hit",le="0.001"} 200
cachegate_request_duration_seconds_bucket{route="pages",cache="hit",le="0.01"} 300
cachegate_request_duration_seconds_bucket{route="pages",cache="hit",le="+Inf"} 300
cachegate_request_duration_seconds_sum{route="pages",cache="hit"} 1.05
cachegate_request_duration_seconds_count{route="pages",cache="hit"} 300
# TYPE cachegate_store_evictions_total counter
cachegate_store_evictions_total{layer="memory",reason="size"} 24
# TYPE cachegate_stored_bytes gauge
cachegate_stored_bytes{layer="memory"} 2000
# TYPE cachegate_store_capacity_bytes gauge
cachegate_store_capacity_bytes{layer="memory"} 4000
# TYPE cachegate_store_circuit_state gauge
cachegate_store_circuit_state{state="closed"} 0
cachegate_store_circuit_state{state="open"} 1
`

func TestStatRatesAreCounterIncreasesOverTheTimeBetweenScrapes(t *testing.T) {
	st := computeStat(window{prev: scrapeOf(t, 0, statBefore), cur: scrapeOf(t, 2*time.Second, statAfter)})
	if st.IntervalSeconds != 2 {
		t.Fatalf("interval = %v, want 2s", st.IntervalSeconds)
	}
	// 180 hits and 20 misses in 2s; the api route had none.
	if !near(st.Requests, 100) || !near(st.ByCache["hit"], 90) || !near(st.ByCache["miss"], 10) || st.ByCache["bypass"] != 0 {
		t.Errorf("requests %v/s by cache %v; want 100/s: hit 90, miss 10, bypass 0", st.Requests, st.ByCache)
	}
	if st.HitRatio == nil || !near(*st.HitRatio, 0.9) {
		t.Errorf("hit ratio = %v, want 0.9", st.HitRatio)
	}
	if !near(st.Origin.Requests, 10) || !near(st.Origin.ByClass["2xx"], 10) {
		t.Errorf("origin %v/s %v, want 10/s of 2xx", st.Origin.Requests, st.Origin.ByClass)
	}
	var pages, api *RouteStat
	for i := range st.Routes {
		switch st.Routes[i].Route {
		case "pages":
			pages = &st.Routes[i]
		case "api":
			api = &st.Routes[i]
		}
	}
	if pages == nil || api == nil {
		t.Fatalf("routes %+v, want pages and api", st.Routes)
	}
	if api.HitRatio != nil || api.Requests != 0 {
		t.Errorf("api: %v/s, hit ratio %v; want 0/s and no ratio (no request in the interval)", api.Requests, api.HitRatio)
	}
	// 200 hits took 1s in all; 100 under 1ms, 100 between 1 and 10ms: the
	// 99th percentile (rank 198) is 1ms + 9ms × 98/100.
	if l := pages.Latency; l == nil || !near(l.Mean, 0.005) || !near(l.P99, 0.001+0.009*0.98) {
		t.Errorf("pages latency %+v, want mean 5ms and p99 9.82ms", pages.Latency)
	}
	if len(st.Store) != 1 || st.Store[0].Bytes != 2000 || st.Store[0].Capacity != 4000 || !near(st.Store[0].Evictions["size"], 10) {
		t.Errorf("store %+v, want memory: 2000 of 4000 bytes, 10 evictions/s by size", st.Store)
	}
	if st.Circuit != "open" {
		t.Errorf("circuit %q, want open", st.Circuit)
	}
	if len(st.Backends) != 0 {
		t.Errorf("backends %+v, want none (no upstream series)", st.Backends)
	}
}

func TestStatTakesACounterThatWentDownAsAResetNotANegativeRate(t *testing.T) {
	restarted := strings.ReplaceAll(statBefore, "} 100\n", "} 6\n")
	st := computeStat(window{prev: scrapeOf(t, 0, statAfter), cur: scrapeOf(t, time.Second, restarted)})
	if st.ByCache["hit"] != 6 {
		t.Errorf("hits/s after a restart (280 then 6) = %v, want 6 (the count since the restart)", st.ByCache["hit"])
	}
	if st.Latency == nil || st.Latency.Mean <= 0 {
		t.Errorf("latency after a restart = %+v, want the histogram since the restart", st.Latency)
	}
}

func TestStatOfAnIdleInstanceHasNoRatioAndNoLatency(t *testing.T) {
	st := computeStat(window{prev: scrapeOf(t, 0, statBefore), cur: scrapeOf(t, time.Second, statBefore)})
	if st.HitRatio != nil || st.Latency != nil || st.Requests != 0 {
		t.Errorf("idle: requests %v, hit ratio %v, latency %+v; want 0, none, none", st.Requests, st.HitRatio, st.Latency)
	}
	var b strings.Builder
	renderStat(&b, &st, true)
	if !strings.Contains(b.String(), "hit ratio -") {
		t.Errorf("the idle view does not show the ratio as -:\n%s", b.String())
	}
}

func TestQuantileInterpolatesInsideItsBucket(t *testing.T) {
	b := []bucket{{0.1, 50}, {0.2, 100}, {math.Inf(1), 100}}
	for q, want := range map[float64]float64{0.25: 0.05, 0.5: 0.1, 0.75: 0.15, 1: 0.2} {
		if got := quantile(q, b, 100); !near(got, want) {
			t.Errorf("quantile(%v) = %v, want %v", q, got, want)
		}
	}
	if got := quantile(0.99, []bucket{{0.1, 0}, {math.Inf(1), 10}}, 10); got != 0.1 {
		t.Errorf("quantile past the last bound = %v, want that bound 0.1", got)
	}
}

func TestStatShowsNoControlCharactersAnInstanceWroteInItsLabels(t *testing.T) {
	hostile := strings.NewReplacer(`"pages"`, "\"\x1b[2J\x1b]0;pwned\x07\"", `"memory"`, "\"\x1b[31m\"").Replace
	st := computeStat(window{prev: scrapeOf(t, 0, hostile(statBefore)), cur: scrapeOf(t, 10*time.Second, hostile(statAfter))})
	var out strings.Builder
	renderStat(&out, &st, true)
	if strings.ContainsAny(out.String(), "\x1b\x07") {
		t.Errorf("the view carries the instance's control characters:\n%q", out.String())
	}
}

func TestLogTextShowsNoControlCharactersInTheCacheState(t *testing.T) {
	line := string(appendText(nil, &accesslog.Record{Cache: "\x1b[2J", URI: "/"}))
	if strings.ContainsAny(line, "\x1b") {
		t.Errorf("text line %q carries the instance's control characters", line)
	}
}
