package e2e

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

func TestTieredInstanceExposesBothStoreLayersPurgeMarksAndRequestLatency(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL, backend: "tiered", prefix: testutil.UniquePrefix(t), extra: `routes:
  - name: pages
    match: {path: /max-age/}
`})
	in.get("/max-age/60/m")
	in.get("/max-age/60/m")
	before := in.metric(`cachegate_purge_marks`)
	in.purge(`{"tags":["x"],"prefixes":["/a/"]}`)
	if after := in.metric(`cachegate_purge_marks`); before == "" || after != fmt.Sprint(atoi(t, before)+2) {
		t.Errorf("cachegate_purge_marks went from %q to %q after purging a tag and a prefix; want 2 more", before, after)
	}
	// store.memory.max_bytes is 256 MiB by default.
	for series, want := range map[string]string{
		`cachegate_stored_objects{layer="memory"}`:                             "1",
		`cachegate_store_capacity_bytes{layer="memory"}`:                       "2.68435456e+08",
		`cachegate_store_evictions_total{layer="memory",reason="size"}`:        "0",
		`cachegate_requests_in_flight`:                                         "0",
		`cachegate_request_duration_seconds_count{cache="hit",route="pages"}`:  "1",
		`cachegate_request_duration_seconds_count{cache="miss",route="pages"}`: "1",
		`cachegate_purge_invalidations_pending`:                                "0",
	} {
		if got := in.metric(series); got != want {
			t.Errorf("%s = %q, want %q", series, got, want)
		}
	}
	// Redis is read on an interval, starting at start.
	testutil.Eventually(t, 10*time.Second, "the redis layer's used_memory is exposed", func() bool {
		v := in.metric(`cachegate_stored_bytes{layer="redis"}`)
		return v != "" && v != "0"
	})
	if in.metric(`cachegate_store_evictions_total{layer="redis",reason="expired"}`) == "" {
		t.Error("the redis layer's expired keys are not exposed")
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is no integer", s)
	}
	return n
}
