package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
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

// statJSON is the part of `cachegate stat -json` the tests read.
type statJSON struct {
	IntervalSeconds float64            `json:"interval_seconds"`
	Requests        float64            `json:"requests_per_second"`
	HitRatio        *float64           `json:"hit_ratio"`
	ByCache         map[string]float64 `json:"requests_per_second_by_cache"`
	Routes          []struct {
		Route    string  `json:"route"`
		Requests float64 `json:"requests_per_second"`
	} `json:"routes"`
	Store []struct {
		Layer    string  `json:"layer"`
		Bytes    float64 `json:"bytes"`
		Capacity float64 `json:"capacity_bytes"`
	} `json:"store"`
	Circuit string `json:"circuit"`
	Purges  struct {
		Marks float64 `json:"active_marks"`
	} `json:"purges"`
}

func TestStatOnceJSONShowsTheRequestsOfItsIntervalFromARealInstance(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL, backend: "tiered", prefix: testutil.UniquePrefix(t), extra: `routes:
  - name: pages
    match: {path: /max-age/}
`})
	in.get("/max-age/60/s") // a miss before stat starts: outside its interval
	in.purge(`{"tags":["t"]}`)
	cmd := exec.Command(binary, "stat", "-config", in.cfgPath, "-once", "-json", "-interval", "1s")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Hits until stat has answered: some fall between its two scrapes.
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	for waiting := true; waiting; {
		select {
		case err = <-done:
			waiting = false
		default:
			in.get("/max-age/60/s")
		}
	}
	if err != nil {
		t.Fatalf("cachegate stat -once -json: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("stat -once -json printed %d lines, want 1:\n%s", len(lines), stdout.String())
	}
	var st statJSON
	if err := json.Unmarshal([]byte(lines[0]), &st); err != nil {
		t.Fatalf("stat -once -json printed no JSON object: %v\n%s", err, lines[0])
	}
	if st.IntervalSeconds < 0.9 || st.Requests <= 0 || st.ByCache["hit"] <= 0 || st.ByCache["miss"] != 0 {
		t.Errorf("stat over ~1s of hits = interval %v, %v req/s, by cache %v; want hits and no miss (the miss came before)", st.IntervalSeconds, st.Requests, st.ByCache)
	}
	if st.HitRatio == nil || *st.HitRatio != 1 {
		t.Errorf("hit ratio %v, want 1", st.HitRatio)
	}
	if len(st.Routes) != 1 || st.Routes[0].Route != "pages" || st.Routes[0].Requests <= 0 {
		t.Errorf("routes %+v, want pages with requests", st.Routes)
	}
	layers := map[string]bool{}
	for _, l := range st.Store {
		layers[l.Layer] = l.Bytes > 0
	}
	if !layers["memory"] || st.Circuit != "closed" || st.Purges.Marks < 1 {
		t.Errorf("store %+v, circuit %q, marks %v; want the memory layer in use, a closed circuit and the purge's mark", st.Store, st.Circuit, st.Purges.Marks)
	}
}

func TestStatPrintsPlainBlocksWhenStdoutIsNotATerminal(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL})
	in.get("/max-age/60/p")
	out, err := exec.Command(binary, "stat", "-config", in.cfgPath, "-once", "-interval", "100ms").CombinedOutput()
	if err != nil {
		t.Fatalf("cachegate stat -once: %v\n%s", err, out)
	}
	if bytes.Contains(out, []byte("\x1b[")) {
		t.Errorf("stat wrote terminal escapes to a pipe:\n%q", out)
	}
	for _, want := range []string{"hit ratio", "ROUTE", "STORE", "memory", "purges"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("stat's block lacks %q:\n%s", want, out)
		}
	}
}
