package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseRefusesBadBackendsWithTheirLineAndOption(t *testing.T) {
	const two = "backends:\n  - name: web\n    upstreams: [{url: \"http://10.0.0.1:80\"}, {url: \"http://10.0.0.2:80\"}]\n"
	for _, tc := range []struct {
		config string
		want   string
	}{
		{two + "routes:\n  - name: a\n    match: {path: /a/}\n    backend: wbe\n", `cfg.yaml:8: routes[0].backend: unknown backend "wbe" (did you mean "web"?)`},
		{two + "default_route:\n  backend: api\n", `cfg.yaml:6: default_route.backend: unknown backend "api" (backends: web)`},
		{"routes:\n  - name: a\n    match: {path: /a/}\n    backend: web\n", `cfg.yaml:5: routes[0].backend: unknown backend "web" (no backends are configured)`},
		{"backends:\n  - upstreams: [{url: \"http://a:1\"}]\n", `cfg.yaml:3: backends[0].name: required`},
		{"backends:\n  - name: origin\n    upstreams: [{url: \"http://a:1\"}]\n", `cfg.yaml:3: backends[0].name: the name "origin" is reserved`},
		{"backends:\n  - {name: a, upstreams: [{url: \"http://a:1\"}]}\n  - {name: a, upstreams: [{url: \"http://a:1\"}]}\n", `cfg.yaml:4: backends[1].name: duplicate backend name "a" (also backends[0])`},
		{"backends:\n  - name: a\n", `cfg.yaml:3: backends[0].upstreams: required: at least one upstream that is not a backup`},
		{"backends:\n  - name: a\n    upstreams: [{url: \"http://a:1\", backup: true}]\n", `cfg.yaml:4: backends[0].upstreams: required: at least one upstream that is not a backup`},
		{"backends:\n  - name: a\n    upstreams:\n      - url: \"ftp://a:1\"\n", `cfg.yaml:5: backends[0].upstreams[0].url: must be an absolute http or https URL, got "ftp://a:1"`},
		{"backends:\n  - name: a\n    upstreams:\n      - url: \"http://a:1/app\"\n", `cfg.yaml:5: backends[0].upstreams[0].url: must be scheme://host[:port] only (put a path in path_prefix)`},
		{"backends:\n  - name: a\n    upstreams:\n      - url: \"http://a:1\"\n      - url: \"http://A:1/\"\n", `cfg.yaml:6: backends[0].upstreams[1].url: duplicate upstream "http://A:1/" (also backends[0].upstreams[0])`},
		{"backends:\n  - name: a\n    upstreams:\n      - {url: \"http://a:1\", weight: 0}\n", `cfg.yaml:5: backends[0].upstreams[0].weight: must be 1 to 1000, got 0`},
		{"backends:\n  - name: a\n    upstreams:\n      - {url: \"http://a:1\", weight: many}\n", `cfg.yaml:5: backends[0].upstreams[0].weight: expected an integer, got "many"`},
		{"backends:\n  - name: a\n    upstreams: [{url: \"http://a:1\"}]\n    balance: sticky\n", `cfg.yaml:5: backends[0].balance: must be round_robin, least_conn, random_two or hash, got "sticky"`},
		{"backends:\n  - name: a\n    upstreams: [{url: \"http://a:1\"}]\n    timeouts: {connect: 0s}\n", `cfg.yaml:5: backends[0].timeouts.connect: must be greater than 0`},
		{"backends:\n  - name: a\n    upstreams: [{url: \"http://a:1\"}]\n    path_prefix: app\n", `cfg.yaml:5: backends[0].path_prefix: must be a path starting with "/"`},
		{"backends:\n  - name: a\n    upstreams: [{url: \"http://a:1\"}]\n    host_header: \"http://x\"\n", `cfg.yaml:5: backends[0].host_header: must be a host name`},
		{"backends:\n  - name: a\n    upstreams: [{url: \"http://a:1\"}]\n    host_header: \"*.example.com\"\n", `cfg.yaml:5: backends[0].host_header: must be a host name, not a wildcard`},
		{"backends:\n  - name: a\n    upstreams: [{url: \"https://a:1\"}]\n    tls: {ca_file: /nonexistent/ca.pem}\n", `cfg.yaml:5: backends[0].tls.ca_file: open /nonexistent/ca.pem: no such file or directory`},
		{"backends:\n  - name: a\n    upstreams: [{url: \"https://a:1\"}]\n    tls: {cert_file: c.pem}\n", `cfg.yaml:5: backends[0].tls.key_file: cert_file and key_file go together`},
		{"backends:\n  - name: a\n    upstreams: [{url: \"http://a:1\"}]\n    passive: {fail_statuses: [404]}\n", `cfg.yaml:5: backends[0].passive.fail_statuses[0]: must be a 5xx status, got 404`},
		{"backends:\n  - name: a\n    upstreams: [{url: \"http://a:1\"}]\n    probe: {path: healthz}\n", `cfg.yaml:5: backends[0].probe.path: must start with "/"`},
		{"backends:\n  - name: a\n    upstreams: [{url: \"http://a:1\"}]\n    probe: {window: 4, threshold: 5}\n", `cfg.yaml:5: backends[0].probe.threshold: must be 1 to window (4), got 5`},
		{"backends:\n  - name: a\n    upstreams: [{url: \"http://a:1\"}]\n    probe: {initial: up}\n", `cfg.yaml:5: backends[0].probe.initial: must be healthy or sick, got "up"`},
		{"backends:\n  - name: a\n    upstreams: [{url: \"http://a:1\"}]\n    probe: {intervall: 1s}\n", `cfg.yaml:5: backends[0].probe.intervall: unknown option (did you mean "interval"?)`},
	} {
		got := parseErr(t, "origin: http://o\n"+tc.config)
		wantLines(t, got, tc.want)
	}
}

func TestAConfigWithoutOriginNeedsABackendForEveryRoute(t *testing.T) {
	got := parseErr(t, "backends:\n  - {name: web, upstreams: [{url: \"http://a:1\"}]}\nroutes:\n  - {name: a, match: {path: /a/}}\n")
	wantLines(t, got, `cfg.yaml:4: routes[0].backend: no backend: name one of backends, or set origin`)
	mustParse(t, "backends:\n  - {name: web, upstreams: [{url: \"http://a:1\"}]}\ndefault_route: {backend: web}\nroutes:\n  - {name: a, match: {path: /a/}, backend: web}\n")
}

func TestBackendsTakeTheirDefaultsAndOriginTimeouts(t *testing.T) {
	mustParse(t, "origin: http://o\nbackends:\n  - {name: s3, upstreams: [{url: \"https://s3.example.com\"}], host_header: \"bucket.s3.example.com:443\"}\n")
	cfg := mustParse(t, `origin: http://o:9000
origin_timeouts: {connect: 2s, response_header: 7s}
backends:
  - name: web
    upstreams:
      - url: "http://10.0.0.1:8080"
      - {url: "http://10.0.0.2:8080", weight: 3, backup: true}
    timeouts: {response_header: 30s}
routes:
  - {name: a, match: {path: /a/}, backend: web}
`)
	b := cfg.BackendOf("web")
	if b == nil || b.Balance != BalanceRoundRobin || b.MaxIdleConns != 256 {
		t.Fatalf("backend web = %+v, want the defaults", b)
	}
	if got := b.Upstreams; len(got) != 2 || got[0].Weight != 1 || got[1].Weight != 3 || !got[1].Backup {
		t.Errorf("upstreams = %+v, want weight 1 by default and the second a backup of weight 3", got)
	}
	if b.Timeouts.Connect.D() != 2*time.Second || b.Timeouts.ResponseHeader.D() != 30*time.Second || b.Timeouts.Idle.D() != 90*time.Second {
		t.Errorf("timeouts = %+v, want connect from origin_timeouts, response_header its own, idle the default", b.Timeouts)
	}
	if p := b.Passive; p.MaxFails != 3 || p.FailTimeout.D() != 10*time.Second || !slices.Equal(p.FailStatuses, []int{502, 503, 504}) {
		t.Errorf("passive = %+v, want 3 fails in 10s, statuses 502 503 504", p)
	}
	if p := b.Probe; p.Path != "" || p.Interval.D() != 5*time.Second || p.Window != 8 || p.Threshold != 3 || p.Initial != ProbeHealthy {
		t.Errorf("probe = %+v, want off, Varnish's defaults", p)
	}
	o := cfg.BackendOf("")
	if o == nil || o.Name != OriginBackend || len(o.Upstreams) != 1 || o.Upstreams[0].URL != "http://o:9000" || o.Passive.MaxFails != 0 || o.Timeouts != cfg.OriginTimeouts {
		t.Errorf("origin backend = %+v, want the origin alone, with origin_timeouts and no passive marking", o)
	}
	if all := cfg.AllBackends(); len(all) != 2 || all[0].Name != "origin" || all[1].Name != "web" {
		t.Errorf("AllBackends = %v, want origin and web", all)
	}
}

func TestAReloadAppliesBackends(t *testing.T) {
	old := Default()
	next := Default()
	next.Backends = []Backend{{Name: "web", Upstreams: []Upstream{{URL: "http://a:1", Weight: 1}}}}
	next.Routes = []Route{{Name: "a", Backend: "web"}}
	if got := RestartNeeded(old, next); len(got) != 0 {
		t.Errorf("RestartNeeded = %q, want none: a reload builds the new backends", got)
	}
}

func TestTheOriginsPathIsItsBackendsPathPrefix(t *testing.T) {
	cfg := mustParse(t, "origin: \"https://o.example:8443/app\"\n")
	b := cfg.BackendOf("")
	if b.PathPrefix != "/app" || b.Upstreams[0].URL != "https://o.example:8443" {
		t.Errorf("origin backend: prefix %q, upstream %q; want /app and https://o.example:8443", b.PathPrefix, b.Upstreams[0].URL)
	}
}

func TestABackendNoRouteUsesIsAWarningWithItsLineNotAProblem(t *testing.T) {
	const backends = "origin: http://127.0.0.1:9\nbackends:\n  - name: web\n    upstreams: [{url: \"http://10.0.0.1:80\"}]\n  - name: staging\n    upstreams: [{url: \"http://10.0.0.2:80\"}]\n"
	for _, tc := range []struct {
		name, uses string
		want       []string
	}{
		{"neither used", "", []string{
			`cfg.yaml:3: backends[0].name: backend "web" is used by no route nor default_route`,
			`cfg.yaml:5: backends[1].name: backend "staging" is used by no route nor default_route`}},
		{"one used by a route", "routes:\n  - name: a\n    match: {path: /a/}\n    backend: web\n", []string{
			`cfg.yaml:5: backends[1].name: backend "staging" is used by no route nor default_route`}},
		{"both used", "routes:\n  - name: a\n    match: {path: /a/}\n    backend: web\ndefault_route: {backend: staging}\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("cfg.yaml", []byte(backends+tc.uses))
			if err != nil {
				t.Fatalf("a backend no route uses refused the config: %v", err)
			}
			if len(cfg.Warnings) != len(tc.want) {
				t.Fatalf("warnings %v, want %d", cfg.Warnings, len(tc.want))
			}
			for i, w := range cfg.Warnings {
				if got := w.In("cfg.yaml"); !strings.HasPrefix(got, tc.want[i]) {
					t.Errorf("warning %d = %q, want it to start with %q", i, got, tc.want[i])
				}
			}
		})
	}
}

func TestAHeapFloorAboveAGibibyteIsAWarningWithItsLine(t *testing.T) {
	for _, tc := range []struct {
		floor string
		want  string
	}{
		{"16MiB", ""},
		{"1GiB", ""},
		{"8GiB", "cfg.yaml:3: gc.heap_floor: a floor of 8GiB can keep that much garbage resident"},
	} {
		cfg, err := Parse("cfg.yaml", []byte("origin: http://127.0.0.1:9\ngc:\n  heap_floor: "+tc.floor+"\n"))
		if err != nil {
			t.Fatalf("heap_floor %s refused: %v", tc.floor, err)
		}
		var got []string
		for _, w := range cfg.Warnings {
			got = append(got, w.In("cfg.yaml"))
		}
		if tc.want == "" && len(got) != 0 || tc.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], tc.want)) {
			t.Errorf("heap_floor %s: warnings %q, want %q", tc.floor, got, tc.want)
		}
	}
}
