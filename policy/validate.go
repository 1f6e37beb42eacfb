package policy

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults filled in by Parse for options left unset (see config.go).
const (
	defaultListen         = ":8080"
	defaultAdminListen    = "127.0.0.1:9091"
	defaultLogLevel       = "info"
	defaultLogFormat      = "text"
	defaultBackend        = "memory"
	defaultMemoryMaxBytes = 256 << 20
	defaultRedisAddr      = "127.0.0.1:6379"
	defaultKeyPrefix      = "cachegate"
	defaultDialTimeout    = Duration(500 * time.Millisecond)
	defaultIOTimeout      = Duration(200 * time.Millisecond)
	defaultMaxObjectBytes = 8 << 20
	defaultCacheName      = "cachegate"
	defaultRouteName      = "default"
)

// DefaultIgnoreQuery returns the query parameters dropped from cache keys
// when a route does not set key.ignore_query.
func DefaultIgnoreQuery() []string { return []string{"utm_*", "gclid", "fbclid"} }

// knownMethods are the request methods a route may match.
var knownMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodTrace, http.MethodConnect, "PURGE",
}

// validate records a problem for every option whose value is not allowed.
// Options that already failed to decode are not checked again.
func (p *parser) validate(cfg *Config) {
	p.check("origin", func() string {
		if cfg.Origin == "" {
			return "required: the backend's base URL, e.g. http://127.0.0.1:9000"
		}
		u, err := url.Parse(cfg.Origin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "must be an absolute http or https URL, got " + strconv.Quote(cfg.Origin)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return "must not have a query or fragment, got " + strconv.Quote(cfg.Origin)
		}
		return ""
	})
	p.check("listen", func() string { return checkListen(cfg.Listen) })
	p.check("admin.listen", func() string { return checkListen(cfg.Admin.Listen) })
	p.check("log.level", func() string { return oneOf(cfg.Log.Level, "debug", "info", "warn", "error") })
	p.check("log.format", func() string { return oneOf(cfg.Log.Format, "text", "json") })
	p.check("store.backend", func() string { return oneOf(cfg.Store.Backend, "memory", "redis", "tiered") })
	p.check("store.memory.max_bytes", func() string { return positive(p.set["store.memory.max_bytes"], int64(cfg.Store.Memory.MaxBytes)) })
	p.check("cache.max_object_bytes", func() string { return positive(p.set["cache.max_object_bytes"], int64(cfg.Cache.MaxObjectBytes)) })
	rc := &cfg.Store.Redis
	for i, addr := range rc.Addrs {
		p.check("store.redis.addrs["+strconv.Itoa(i)+"]", func() string { return checkAddr(addr) })
	}
	p.check("store.redis.db", func() string { return notNegative(rc.DB) })
	p.check("store.redis.pool_size", func() string { return notNegative(rc.PoolSize) })
	p.check("store.redis.master_name", func() string {
		if rc.MasterName != "" && rc.Cluster {
			return "Sentinel (master_name) and cluster cannot both be set"
		}
		return ""
	})
	names := map[string]string{}
	for i := range cfg.Routes {
		p.route(&cfg.Routes[i], "routes["+strconv.Itoa(i)+"]", names)
	}
	p.route(&cfg.DefaultRoute, "default_route", nil)
}

// check records the problem f reports for option, unless option already
// has one.
func (p *parser) check(option string, f func() string) {
	if p.bad[option] {
		return
	}
	if msg := f(); msg != "" {
		p.add(p.lineOf(option), option, "%s", msg)
	}
}

// route checks one route; names maps the names seen so far to their
// option paths. names is nil for default_route, which has neither a name
// nor a match of its own.
func (p *parser) route(rt *Route, path string, names map[string]string) {
	if names != nil {
		p.check(path+".name", func() string {
			switch first, dup := names[rt.Name]; {
			case rt.Name == "":
				return "required: a route needs a name (used in metrics, logs and purges)"
			case rt.Name == defaultRouteName:
				return `the name "default" is reserved for default_route`
			case dup:
				return "duplicate route name " + strconv.Quote(rt.Name) + " (also " + first + ")"
			}
			names[rt.Name] = path
			return ""
		})
		p.check(path+".match", func() string {
			m := rt.Match
			if m.Host == "" && m.Path == "" && len(m.Methods) == 0 {
				return "route has no match (set host, path or methods)"
			}
			return ""
		})
		p.check(path+".match.host", func() string { return checkHost(rt.Match.Host) })
		p.check(path+".match.path", func() string {
			m, err := compileMatch(rt.Match)
			if err != nil {
				return err.Error()
			}
			rt.match = m
			return ""
		})
		for i, m := range rt.Match.Methods {
			p.check(path+".match.methods["+strconv.Itoa(i)+"]", func() string {
				switch {
				case slices.Contains(knownMethods, m):
					return ""
				case slices.Contains(knownMethods, strings.ToUpper(m)):
					return "methods are upper-case: write " + strconv.Quote(strings.ToUpper(m))
				}
				return "unknown method " + strconv.Quote(m) + " (use " + strings.Join(knownMethods, ", ") + ")"
			})
		}
	}
	p.check(path+".mode", func() string { return oneOf(rt.Mode, "respect", "override") })
	for i, tag := range rt.Tags {
		p.check(path+".tags["+strconv.Itoa(i)+"]", func() string {
			if tag == "" || strings.ContainsAny(tag, " \t\r\n,") {
				return "a tag is one word without spaces or commas, got " + strconv.Quote(tag)
			}
			return ""
		})
	}
	for i, q := range rt.KeyOptions.IgnoreQuery {
		p.check(path+".key.ignore_query["+strconv.Itoa(i)+"]", func() string {
			if q == "" || strings.Contains(strings.TrimSuffix(q, "*"), "*") {
				return "a parameter name, with an optional trailing * for a prefix, got " + strconv.Quote(q)
			}
			return ""
		})
	}
	for i, h := range rt.KeyOptions.Headers {
		p.check(path+".key.headers["+strconv.Itoa(i)+"]", func() string {
			if !isToken(h) {
				return "invalid header name " + strconv.Quote(h)
			}
			return ""
		})
	}
	for i, c := range rt.KeyOptions.Cookies {
		p.check(path+".key.cookies["+strconv.Itoa(i)+"]", func() string {
			if !isToken(c) {
				return "invalid cookie name " + strconv.Quote(c)
			}
			return ""
		})
	}
}

func oneOf(v string, allowed ...string) string {
	if v == "" || slices.Contains(allowed, v) {
		return ""
	}
	return "must be " + strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1] + ", got " + strconv.Quote(v)
}

func positive(set bool, n int64) string {
	if set && n <= 0 {
		return "must be greater than 0"
	}
	return ""
}

func notNegative(n int) string {
	if n < 0 {
		return "must not be negative, got " + strconv.Itoa(n)
	}
	return ""
}

func checkListen(addr string) string {
	if addr == "" {
		return ""
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "must be host:port or :port, e.g. \":8080\", got " + strconv.Quote(addr)
	}
	return ""
}

func checkAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
		return "must be host:port, e.g. \"127.0.0.1:6379\", got " + strconv.Quote(addr)
	}
	return ""
}

// checkHost accepts a host name, "*." followed by a host name, an IPv4
// address or a bracketed IPv6 address; never a port or a scheme.
func checkHost(h string) string {
	if h == "" {
		return ""
	}
	name := strings.TrimPrefix(h, "*.")
	if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "]") && name == h {
		if net.ParseIP(name[1:len(name)-1]) != nil {
			return ""
		}
	}
	valid := name != "" && name[0] != '.' && !strings.Contains(name, "..")
	for i := 0; i < len(name) && valid; i++ {
		c := name[i]
		valid = c == '-' || c == '.' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	if !valid {
		return "must be a host name, optionally led by \"*.\" (no scheme, port or path), got " + strconv.Quote(h)
	}
	return ""
}

// isToken reports whether s is an RFC 9110 §5.6.2 token, the syntax of
// header and cookie names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// applyDefaults fills every option left unset with its default.
func (p *parser) applyDefaults(cfg *Config) {
	setDefault(&cfg.Listen, defaultListen)
	if !p.set["admin.listen"] {
		cfg.Admin.Listen = defaultAdminListen
	}
	setDefault(&cfg.Log.Level, defaultLogLevel)
	setDefault(&cfg.Log.Format, defaultLogFormat)
	setDefault(&cfg.Store.Backend, defaultBackend)
	setDefault(&cfg.Store.Memory.MaxBytes, defaultMemoryMaxBytes)
	rc := &cfg.Store.Redis
	if len(rc.Addrs) == 0 {
		rc.Addrs = []string{defaultRedisAddr}
	}
	setDefault(&rc.KeyPrefix, defaultKeyPrefix)
	setDefault(&rc.DialTimeout, defaultDialTimeout)
	setDefault(&rc.ReadTimeout, defaultIOTimeout)
	setDefault(&rc.WriteTimeout, defaultIOTimeout)
	setDefault(&cfg.Cache.MaxObjectBytes, defaultMaxObjectBytes)
	setDefault(&cfg.Cache.Name, defaultCacheName)
	for i := range cfg.Routes {
		routeDefaults(&cfg.Routes[i])
	}
	cfg.DefaultRoute.Name = defaultRouteName
	cfg.DefaultRoute.Match = Match{}
	routeDefaults(&cfg.DefaultRoute)
}

func routeDefaults(rt *Route) {
	setDefault(&rt.Mode, "respect")
	if rt.KeyOptions.IgnoreQuery == nil {
		rt.KeyOptions.IgnoreQuery = DefaultIgnoreQuery()
	}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// compileKey puts the key's header names in canonical form, the form they
// take in cache keys.
func compileKey(k *KeyOptions) {
	for i, h := range k.Headers {
		k.Headers[i] = http.CanonicalHeaderKey(h)
	}
}
