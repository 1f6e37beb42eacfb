package metrics

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// dashboard is the part of docs/dashboard.json the test reads.
type dashboard struct {
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Type        string `json:"type"`
		Title       string `json:"title"`
		FieldConfig struct {
			Defaults struct {
				Unit string `json:"unit"`
			} `json:"defaults"`
		} `json:"fieldConfig"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// everyFamily records into every metric once, so that each family is
// gathered, and returns the names Gather reports (a histogram's also with
// _bucket, _sum and _count).
func everyFamily(t *testing.T) map[string]bool {
	t.Helper()
	m := New("test")
	m.Request("r", CacheHit)
	m.RequestDuration("r", CacheHit, time.Millisecond)
	m.InFlight(0)
	m.Origin("r", 200, time.Millisecond)
	m.StoreOp("redis", OpGet, errors.New("x"), time.Millisecond)
	m.Collapsed("r")
	m.BreakerState(BreakerClosed)
	m.CertExpiry("c", time.Now())
	m.ClientError(ClientBodyTimeout)
	m.UpstreamRequest("b", "u:1", 200, true, time.Millisecond)
	m.UpstreamHealthy("b", "u:1", true)
	m.UpstreamProbe("b", "u:1", true)
	m.StoreLayerFunc(LayerMemory, func() (LayerUsage, bool) { return LayerUsage{}, true })
	m.InvalidationsFunc(func() (int, uint64) { return 0, 0 })
	m.PurgeMarksFunc(func() int { return 0 })
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+s] = true
			}
		}
	}
	return names
}

// panelUnits are the units a panel may show: Grafana's ids for seconds,
// bytes, requests and operations per second, ratios, counts and times.
var panelUnits = map[string]bool{
	"s": true, "bytes": true, "reqps": true, "ops": true, "percentunit": true,
	"short": true, "dateTimeFromNow": true,
}

var metricName = regexp.MustCompile(`\b(?:cachegate|go|process)_[a-z_]+\b`)

func TestDashboardQueriesOnlyRegisteredMetricsPerInstanceWithAUnit(t *testing.T) {
	b, err := os.ReadFile("../docs/dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("docs/dashboard.json is not valid JSON: %v", err)
	}
	hasInstance := false
	for _, v := range d.Templating.List {
		hasInstance = hasInstance || v.Name == "instance"
	}
	if !hasInstance {
		t.Error("the dashboard has no instance variable")
	}
	registered := everyFamily(t)
	queries := 0
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if !panelUnits[p.FieldConfig.Defaults.Unit] {
			t.Errorf("panel %q: unit %q, want one of seconds, bytes, reqps, ops, percentunit, short, dateTimeFromNow", p.Title, p.FieldConfig.Defaults.Unit)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			queries++
			names := metricName.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: %s names no metric", p.Title, tg.Expr)
			}
			for _, n := range names {
				if !registered[n] {
					t.Errorf("panel %q: %s is not a metric cachegate registers", p.Title, n)
				}
			}
			if strings.Count(tg.Expr, `instance=~"$instance"`) != len(names) {
				t.Errorf("panel %q: not every selector of %s is limited to instance=~\"$instance\"", p.Title, tg.Expr)
			}
		}
	}
	if queries == 0 {
		t.Error("the dashboard has no queries")
	}
}
