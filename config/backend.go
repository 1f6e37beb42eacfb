package config

import (
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Backend is a named group of upstream servers: a route's misses go to one
// of them, chosen by Balance among the healthy ones.
type Backend struct {
	// Name identifies the backend in routes, metrics and /readyz. Required,
	// unique, made of a-z, 0-9, "_" and "-"; "origin" is the top-level
	// origin's.
	Name string `yaml:"name"`
	// Upstreams are the servers. At least one that is not a backup.
	Upstreams []Upstream `yaml:"upstreams"`
	// Balance is how a request's upstream is chosen: BalanceRoundRobin,
	// BalanceLeastConn, BalanceRandomTwo or BalanceHash.
	Balance string `yaml:"balance"`
	// Timeouts bound the phases of a request to an upstream; an option
	// left unset is origin_timeouts'.
	Timeouts OriginTimeouts `yaml:"timeouts"`
	// MaxIdleConns is the keep-alive pool: idle connections kept per
	// upstream.
	MaxIdleConns int `yaml:"max_idle_conns"`
	// TLS is how https upstreams are verified and authenticated to.
	TLS UpstreamTLS `yaml:"tls"`
	// HostHeader is the Host sent upstream; empty keeps the client's (an
	// object store or a SaaS origin needs its own).
	HostHeader string `yaml:"host_header"`
	// PathPrefix is put before every request's path ("/site-a").
	PathPrefix string `yaml:"path_prefix"`
	// Passive takes an upstream out after failures seen on real requests.
	Passive PassiveHealth `yaml:"passive"`
	// Probe checks each upstream actively; off while Path is empty.
	Probe Probe `yaml:"probe"`
}

// Upstream is one server of a backend.
type Upstream struct {
	// URL is the server: http or https, host and port, no path (the
	// backend's path_prefix is the path).
	URL string `yaml:"url"`
	// Weight is the upstream's share of requests relative to the others,
	// 1 to 1000.
	Weight int `yaml:"weight"`
	// Backup upstreams get requests only while every other one is down.
	Backup bool `yaml:"backup"`
}

// UpstreamTLS is TLS to a backend's https upstreams.
type UpstreamTLS struct {
	// CAFile is a PEM bundle trusted instead of the system roots.
	CAFile string `yaml:"ca_file"`
	// ServerName is the name verified in the upstream's certificate (and
	// sent as SNI); empty, the upstream URL's host.
	ServerName string `yaml:"server_name"`
	// CertFile and KeyFile are a client certificate and its key (PEM),
	// for upstreams that require one.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// PassiveHealth marks an upstream down from the requests it fails (as
// nginx's max_fails and fail_timeout).
type PassiveHealth struct {
	// MaxFails failures within FailTimeout take an upstream out; 0 turns
	// passive marking off. A failure is a connection that failed or timed
	// out, or a response with one of FailStatuses.
	MaxFails int `yaml:"max_fails"`
	// FailTimeout is the window failures are counted in, and how long an
	// upstream stays out.
	FailTimeout Duration `yaml:"fail_timeout"`
	// FailStatuses are the response statuses counted as failures.
	FailStatuses []int `yaml:"fail_statuses"`
}

// Probe is an active health check (as Varnish's probes): every Interval,
// a GET of Path on each upstream; an upstream is healthy while at least
// Threshold of the last Window probes answered ExpectStatus within
// Timeout.
type Probe struct {
	// Path is the path probed ("/healthz"); empty turns probes off.
	Path string `yaml:"path"`
	// Interval is the time between two probes of one upstream.
	Interval Duration `yaml:"interval"`
	// Timeout bounds one probe.
	Timeout Duration `yaml:"timeout"`
	// ExpectStatus is the status of a good probe.
	ExpectStatus int `yaml:"expect_status"`
	// Window is how many of the last probes are remembered, 1 to 64.
	Window int `yaml:"window"`
	// Threshold is how many of them must be good, 1 to Window.
	Threshold int `yaml:"threshold"`
	// Initial is the state before the first probe: healthy or sick.
	Initial string `yaml:"initial"`
}

// The values of Backend.Balance.
const (
	// BalanceRoundRobin takes the upstreams in turn, by weight.
	BalanceRoundRobin = "round_robin"
	// BalanceLeastConn takes the upstream with the fewest requests in
	// flight relative to its weight.
	BalanceLeastConn = "least_conn"
	// BalanceRandomTwo draws two upstreams by weight and takes the one
	// with fewer requests in flight.
	BalanceRandomTwo = "random_two"
	// BalanceHash hashes the cache key: a key's misses go to the same
	// upstream while it is healthy, and few keys move when one is added or
	// removed (Varnish's shard director).
	BalanceHash = "hash"
)

// OriginBackend is the name of the backend made of the top-level origin.
const OriginBackend = "origin"

// Limits of backend options.
const (
	maxWeight      = 1000
	maxProbeWindow = 64
)

// UnmarshalYAML decodes a backend over the defaults of a backend.
func (b *Backend) UnmarshalYAML(n *yaml.Node) error {
	type options Backend // without this method
	o := options(defaultBackend())
	if err := n.Decode(&o); err != nil {
		return err
	}
	*b = Backend(o)
	return nil
}

// UnmarshalYAML decodes an upstream over the defaults of an upstream.
func (u *Upstream) UnmarshalYAML(n *yaml.Node) error {
	type options Upstream // without this method
	o := options(defaultUpstream())
	if err := n.Decode(&o); err != nil {
		return err
	}
	*u = Upstream(o)
	return nil
}

// BackendOf returns the backend routes without one of their own use: the
// top-level origin as a backend of one upstream, with origin_timeouts and
// no health checks, so that a config without backends behaves as it
// always did. It is nil when origin is not set.
func (c *Config) BackendOf(name string) *Backend {
	if name == "" || name == OriginBackend {
		if c.Origin == "" {
			return nil
		}
		b := defaultBackend()
		b.Name = OriginBackend
		b.Upstreams = []Upstream{{URL: c.Origin, Weight: 1}}
		if u, err := url.Parse(c.Origin); err == nil && u.Path != "" {
			// The origin's path is its backend's prefix.
			b.PathPrefix = u.Path
			b.Upstreams[0].URL = u.Scheme + "://" + u.Host
		}
		b.Timeouts = c.OriginTimeouts
		b.Passive.MaxFails = 0
		return &b
	}
	for i := range c.Backends {
		if c.Backends[i].Name == name {
			return &c.Backends[i]
		}
	}
	return nil
}

// AllBackends returns the origin's backend (when origin is set) and every
// configured backend.
func (c *Config) AllBackends() []*Backend {
	var all []*Backend
	if b := c.BackendOf(OriginBackend); b != nil {
		all = append(all, b)
	}
	for i := range c.Backends {
		all = append(all, &c.Backends[i])
	}
	return all
}

// validateBackends checks the backends and the backend every route names.
func (c *Config) validateBackends(ch *checker) {
	names := map[string]string{}
	for i := range c.Backends {
		c.Backends[i].validate(ch, "backends["+strconv.Itoa(i)+"]", names)
	}
	for i := range c.Routes {
		c.checkRouteBackend(ch, "routes["+strconv.Itoa(i)+"]", c.Routes[i].Backend)
	}
	if c.DefaultRoute.Backend != "" { // else origin is required (validate)
		c.checkRouteBackend(ch, "default_route", c.DefaultRoute.Backend)
	}
}

// warnings are the Warnings of a valid c; x says where options were
// written.
func (c *Config) warnings(x *index) []Problem {
	var warnings []Problem
	for i, b := range c.Backends {
		if !c.backendUsed(b.Name) {
			option := "backends[" + strconv.Itoa(i) + "].name"
			warnings = append(warnings, Problem{Line: x.lineOf(option), Option: option,
				Message: "backend " + strconv.Quote(b.Name) + " is used by no route nor default_route: it gets no requests (its probes still run)"})
		}
	}
	if c.GC.HeapFloor > maxUsefulHeapFloor {
		warnings = append(warnings, Problem{Line: x.lineOf("gc.heap_floor"), Option: "gc.heap_floor",
			Message: "a floor of " + c.GC.HeapFloor.String() + " can keep that much garbage resident; 16–64 MiB is what spares a small heap its collections (0 turns the floor off)"})
	}
	return append(warnings, c.prefixPatternWarnings(x)...)
}

// maxUsefulHeapFloor is the gc.heap_floor above which validate warns: the
// measured gain stopped at 16 MiB (docs/BENCHMARKS.md, "Redis-only hits"),
// and a floor is garbage the process may hold.
const maxUsefulHeapFloor = 1 << 30

// backendUsed reports whether a route or the default route names backend
// name.
func (c *Config) backendUsed(name string) bool {
	if c.DefaultRoute.Backend == name {
		return true
	}
	for i := range c.Routes {
		if c.Routes[i].Backend == name {
			return true
		}
	}
	return false
}

// checkRouteBackend checks that the backend a route at path names exists.
func (c *Config) checkRouteBackend(ch *checker, path, name string) {
	ch.check(path+".backend", func() string {
		if name == "" || name == OriginBackend {
			if c.Origin == "" {
				return "no backend: name one of backends, or set origin"
			}
			return ""
		}
		if c.BackendOf(name) != nil {
			return ""
		}
		known := []string{}
		for _, b := range c.Backends {
			known = append(known, b.Name)
		}
		return "unknown backend " + strconv.Quote(name) + closest(name, known)
	})
}

// closest returns ` (did you mean "x"?)` for the name in known closest to
// name, when one is close enough to be a typo, else " (backends: a, b)".
func closest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(name, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return " (did you mean " + strconv.Quote(best) + "?)"
	}
	if len(known) == 0 {
		return " (no backends are configured)"
	}
	return " (backends: " + strings.Join(known, ", ") + ")"
}

// validate checks one backend; names maps the names seen so far to their
// option paths.
func (b *Backend) validate(ch *checker, path string, names map[string]string) {
	ch.check(path+".name", func() string {
		switch first, dup := names[b.Name]; {
		case b.Name == "":
			return "required: a backend needs a name (used by routes, in metrics and /readyz)"
		case b.Name == OriginBackend:
			return `the name "origin" is reserved for the top-level origin`
		case !webhookName.MatchString(b.Name):
			return "must be made of a-z, 0-9, _ and -, got " + strconv.Quote(b.Name)
		case dup:
			return "duplicate backend name " + strconv.Quote(b.Name) + " (also " + first + ")"
		}
		names[b.Name] = path
		return ""
	})
	b.validateUpstreams(ch, path)
	ch.check(path+".balance", func() string {
		return oneOf(b.Balance, BalanceRoundRobin, BalanceLeastConn, BalanceRandomTwo, BalanceHash)
	})
	b.Timeouts.validate(ch, path+".timeouts")
	ch.check(path+".max_idle_conns", func() string { return notNegative(b.MaxIdleConns) })
	ch.check(path+".host_header", func() string {
		if b.HostHeader == "" {
			return ""
		}
		host := b.HostHeader
		if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.HasSuffix(host, "]") {
			if _, err := strconv.ParseUint(host[i+1:], 10, 16); err == nil {
				host = host[:i] // "name:port"
			}
		}
		if strings.HasPrefix(host, "*.") {
			return "must be a host name, not a wildcard, got " + strconv.Quote(b.HostHeader)
		}
		return checkHost(host)
	})
	ch.check(path+".path_prefix", func() string {
		if b.PathPrefix != "" && (b.PathPrefix[0] != '/' || strings.ContainsAny(b.PathPrefix, "?#")) {
			return "must be a path starting with \"/\" (no query), got " + strconv.Quote(b.PathPrefix)
		}
		return ""
	})
	b.TLS.validate(ch, path+".tls")
	b.Passive.validate(ch, path+".passive")
	b.Probe.validate(ch, path+".probe")
}

// validateUpstreams checks a backend's upstreams: URLs, weights, no
// duplicates, and at least one primary.
func (b *Backend) validateUpstreams(ch *checker, path string) {
	ch.check(path+".upstreams", func() string {
		for _, u := range b.Upstreams {
			if !u.Backup {
				return ""
			}
		}
		return "required: at least one upstream that is not a backup, e.g. - url: http://10.0.0.1:8080"
	})
	seen := map[string]string{}
	for i, u := range b.Upstreams {
		upath := path + ".upstreams[" + strconv.Itoa(i) + "]"
		ch.check(upath+".url", func() string {
			if msg := checkURL(u.URL, "http", "https"); msg != "" {
				return msg
			}
			parsed, _ := url.Parse(u.URL)
			if strings.Trim(parsed.Path, "/") != "" || parsed.RawQuery != "" || parsed.Fragment != "" || parsed.User != nil {
				return "must be scheme://host[:port] only (put a path in path_prefix), got " + strconv.Quote(u.URL)
			}
			key := parsed.Scheme + "://" + strings.ToLower(parsed.Host)
			if first, dup := seen[key]; dup {
				return "duplicate upstream " + strconv.Quote(u.URL) + " (also " + first + ")"
			}
			seen[key] = upath
			return ""
		})
		ch.check(upath+".weight", func() string {
			if u.Weight < 1 || u.Weight > maxWeight {
				return "must be 1 to " + strconv.Itoa(maxWeight) + ", got " + strconv.Itoa(u.Weight)
			}
			return ""
		})
	}
}

func (t *UpstreamTLS) validate(ch *checker, path string) {
	ch.check(path+".ca_file", func() string { return checkCAFile(t.CAFile) })
	ch.check(path+".server_name", func() string { return checkHost(t.ServerName) })
	ch.check(path+".key_file", func() string {
		if (t.CertFile == "") != (t.KeyFile == "") {
			return "cert_file and key_file go together"
		}
		return ""
	})
	if t.CertFile != "" && t.KeyFile != "" {
		ch.check(path+".cert_file", func() string { return checkKeyPair(t.CertFile, t.KeyFile) })
	}
}

func (ph *PassiveHealth) validate(ch *checker, path string) {
	ch.check(path+".max_fails", func() string { return notNegative(ph.MaxFails) })
	ch.positive(path+".fail_timeout", int64(ph.FailTimeout))
	for i, s := range ph.FailStatuses {
		ch.check(path+".fail_statuses["+strconv.Itoa(i)+"]", func() string {
			if s < 500 || s > 599 {
				return "must be a 5xx status, got " + strconv.Itoa(s)
			}
			return ""
		})
	}
}

func (pr *Probe) validate(ch *checker, path string) {
	ch.check(path+".path", func() string {
		if pr.Path != "" && pr.Path[0] != '/' {
			return "must start with \"/\", got " + strconv.Quote(pr.Path)
		}
		return ""
	})
	ch.positive(path+".interval", int64(pr.Interval))
	ch.positive(path+".timeout", int64(pr.Timeout))
	ch.check(path+".expect_status", func() string {
		if pr.ExpectStatus < 100 || pr.ExpectStatus > 599 {
			return "must be a status 100 to 599, got " + strconv.Itoa(pr.ExpectStatus)
		}
		return ""
	})
	ch.check(path+".window", func() string {
		if pr.Window < 1 || pr.Window > maxProbeWindow {
			return "must be 1 to " + strconv.Itoa(maxProbeWindow) + ", got " + strconv.Itoa(pr.Window)
		}
		return ""
	})
	ch.check(path+".threshold", func() string {
		if pr.Threshold < 1 || pr.Threshold > pr.Window {
			return "must be 1 to window (" + strconv.Itoa(pr.Window) + "), got " + strconv.Itoa(pr.Threshold)
		}
		return ""
	})
	ch.check(path+".initial", func() string { return oneOf(pr.Initial, ProbeHealthy, ProbeSick) })
}

// The values of Probe.Initial.
const (
	ProbeHealthy = "healthy"
	ProbeSick    = "sick"
)

// completeBackends fills in each backend's timeouts left unset from
// origin_timeouts; x says which options were written.
func (c *Config) completeBackends(x *index) {
	for i := range c.Backends {
		t := &c.Backends[i].Timeouts
		path := "backends[" + strconv.Itoa(i) + "].timeouts"
		if !x.set[path+".connect"] {
			t.Connect = c.OriginTimeouts.Connect
		}
		if !x.set[path+".response_header"] {
			t.ResponseHeader = c.OriginTimeouts.ResponseHeader
		}
		if !x.set[path+".idle"] {
			t.Idle = c.OriginTimeouts.Idle
		}
	}
}

// checkCAFile accepts "" or a file holding at least one PEM certificate.
func checkCAFile(file string) string {
	if file == "" {
		return ""
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return err.Error()
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		return "no PEM certificate in " + strconv.Quote(file)
	}
	return ""
}

// checkKeyPair loads a certificate and its key, so that a bad path or key
// is refused when the config is read.
func checkKeyPair(certFile, keyFile string) string {
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		return "cannot load certificate " + strconv.Quote(certFile) + " with key " + strconv.Quote(keyFile) + ": " + err.Error()
	}
	return ""
}
