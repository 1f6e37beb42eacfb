package config

import (
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/cachegate/cachegate/internal/glob"
	"github.com/cachegate/cachegate/internal/httpfield"
)

// Limits of numeric options.
const (
	maxBeta      = 10
	maxTTLJitter = 0.5
	// maxStaleIfUnreachable bounds how long an unreachable origin's pages
	// are served: a day covers an outage; past that, stale-if-error says it.
	maxStaleIfUnreachable = Duration(24 * time.Hour)
	maxWarmWorkers        = 64
)

// webhookName is the syntax of a webhook's name, which appears in its URL.
var webhookName = regexp.MustCompile(`^[a-z0-9_-]+$`)

// knownMethods are the request methods a route may match.
var knownMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodTrace, http.MethodConnect, "PURGE",
}

// checker collects the problems of a configuration; x says where each
// option was written.
type checker struct {
	x        *index
	problems []Problem
}

// check records the problem f reports for option, unless option or one
// of its parents already has one (it failed to decode, say).
func (c *checker) check(option string, f func() string) {
	if c.x.badAt(option) {
		return
	}
	if msg := f(); msg != "" {
		c.problems = append(c.problems, Problem{Line: c.x.lineOf(option), Option: option, Message: msg})
		c.x.bad[option] = true
	}
}

// positive checks that a duration or size option is greater than 0.
func (c *checker) positive(option string, n int64) {
	c.check(option, func() string { return positive(n) })
}

// Validate reports every problem of c, a Config built in code (Parse
// validates what it reads, with lines): a *ConfigError, or nil. It also
// parses the webhook templates, which Webhook.Render needs.
func (c *Config) Validate() error {
	if problems := c.validate(newIndex()); len(problems) > 0 {
		return &ConfigError{File: c.File, Problems: problems}
	}
	return nil
}

// validate returns a problem for every option whose value is not allowed;
// x says where options were written.
func (c *Config) validate(x *index) []Problem {
	ch := &checker{x: x}
	ch.check("origin", func() string {
		if c.Origin == "" && c.DefaultRoute.Backend != "" {
			return "" // every route has a backend (validateBackends)
		}
		if c.Origin == "" {
			return "required: the backend's base URL, e.g. http://127.0.0.1:9000"
		}
		u, err := url.Parse(c.Origin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "must be an absolute http or https URL, got " + strconv.Quote(c.Origin)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return "must not have a query or fragment, got " + strconv.Quote(c.Origin)
		}
		return ""
	})
	ch.check("listen", func() string { return checkListen(c.Listen) })
	ch.check("admin.listen", func() string { return checkListen(c.Admin.Listen) })
	c.Log.validate(ch, "log")
	c.AccessLog.validate(ch, "access_log")
	c.Store.validate(ch, "store")
	c.Cache.validate(ch, "cache")
	c.OriginTimeouts.validate(ch, "origin_timeouts")
	ch.positive("shutdown_timeout", int64(c.ShutdownTimeout))
	ch.positive("client_timeouts.write", int64(c.ClientTimeouts.Write))
	names := map[string]string{}
	for i := range c.Routes {
		c.Routes[i].validate(ch, "routes["+strconv.Itoa(i)+"]", names)
	}
	c.DefaultRoute.validate(ch, "default_route", nil)
	validateDefaultRouteOwnOptions(ch)
	c.validateBackends(ch)
	hooks := map[string]string{}
	for i := range c.Webhooks {
		c.Webhooks[i].validate(ch, "webhooks["+strconv.Itoa(i)+"]", hooks)
	}
	c.Warm.validate(ch, "warm")
	c.TLS.validate(ch, "tls")
	c.validateListenClash(ch)
	for i, s := range c.TrustedProxies {
		ch.check("trusted_proxies["+strconv.Itoa(i)+"]", func() string {
			if _, err := ParseTrustedProxy(s); err != nil {
				return "must be a CIDR (\"10.0.0.0/8\", \"2001:db8::/32\") or an IP address, got " + strconv.Quote(s)
			}
			return ""
		})
	}
	c.ClientLimits.validate(ch, "client_limits")
	return ch.problems
}

// ParseTrustedProxy reads an entry of trusted_proxies: a CIDR, or an
// address as a one-address prefix.
func ParseTrustedProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		prefix, err := netip.ParsePrefix(s)
		return prefix.Masked(), err
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()), nil
}

func (l *LogConfig) validate(ch *checker, path string) {
	ch.check(path+".level", func() string { return oneOf(l.Level, "debug", "info", "warn", "error") })
	ch.check(path+".format", func() string { return oneOf(l.Format, "text", "json") })
}

func (a *AccessLogConfig) validate(ch *checker, path string) {
	ch.check(path+".format", func() string {
		if a.Format == "" {
			return `must be json or combined, got ""`
		}
		return oneOf(a.Format, "json", "combined")
	})
	ch.check(path+".output", func() string {
		if a.Output == "" {
			return `required: stdout, stderr or a file path`
		}
		if !a.IsFile() {
			return ""
		}
		if fi, err := os.Stat(a.Output); err == nil && fi.IsDir() {
			return strconv.Quote(a.Output) + " is a directory: give a file in it (access.log)"
		}
		return checkLogDir(filepath.Dir(a.Output))
	})
}

// checkLogDir accepts a directory a log file can be created in, so that
// validate reports a missing one rather than the start.
func checkLogDir(dir string) string {
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return "the file's directory: " + err.Error()
	case !fi.IsDir():
		return "the file's directory " + strconv.Quote(dir) + " is not a directory"
	}
	return ""
}

// IsFile reports whether the access log's output is a file, not stdout
// or stderr.
func (a AccessLogConfig) IsFile() bool { return a.Output != "stdout" && a.Output != "stderr" }

func (s *StoreConfig) validate(ch *checker, path string) {
	ch.check(path+".backend", func() string { return oneOf(s.Backend, "memory", "redis", "tiered") })
	ch.positive(path+".memory.max_bytes", int64(s.Memory.MaxBytes))
	s.Redis.validate(ch, path+".redis")
}

func (rc *RedisConfig) validate(ch *checker, path string) {
	ch.check(path+".addrs", func() string {
		if len(rc.Addrs) == 0 {
			return "required: at least one host:port, e.g. \"127.0.0.1:6379\""
		}
		return ""
	})
	for i, addr := range rc.Addrs {
		ch.check(path+".addrs["+strconv.Itoa(i)+"]", func() string { return checkAddr(addr) })
	}
	ch.check(path+".db", func() string {
		if rc.DB < 0 {
			return notNegative(rc.DB)
		}
		if rc.DB != 0 && (rc.Cluster || (rc.MasterName == "" && len(rc.Addrs) > 1)) {
			return "Redis Cluster has only db 0, got " + strconv.Itoa(rc.DB)
		}
		return ""
	})
	ch.check(path+".pool_size", func() string { return notNegative(rc.PoolSize) })
	ch.check(path+".master_name", func() string {
		if rc.MasterName != "" && rc.Cluster {
			return "Sentinel (master_name) and cluster cannot both be set"
		}
		return ""
	})
	ch.positive(path+".dial_timeout", int64(rc.DialTimeout))
	ch.positive(path+".read_timeout", int64(rc.ReadTimeout))
	ch.positive(path+".write_timeout", int64(rc.WriteTimeout))
}

func (c *CacheConfig) validate(ch *checker, path string) {
	ch.positive(path+".max_object_bytes", int64(c.MaxObjectBytes))
	ch.fieldNames(path+".targeted_fields", c.TargetedFields)
	ch.fieldNames(path+".strip_response_fields", c.StripResponseFields)
	ch.check(path+".tag_headers.surrogate_key", func() string { return checkFieldName(c.TagHeaders.SurrogateKey) })
	ch.check(path+".tag_headers.cache_tag", func() string { return checkFieldName(c.TagHeaders.CacheTag) })
	ch.positive(path+".collapse.wait", int64(c.Collapse.Wait))
	ch.positive(path+".collapse.hit_for_pass", int64(c.Collapse.HitForPass))
	ch.check(path+".early_refresh_beta", func() string { return between(c.EarlyRefreshBeta, 0, maxBeta) })
	ch.positive(path+".max_pattern_purges", int64(c.MaxPatternPurges))
}

func (t *OriginTimeouts) validate(ch *checker, path string) {
	ch.positive(path+".connect", int64(t.Connect))
	ch.positive(path+".response_header", int64(t.ResponseHeader))
	ch.positive(path+".idle", int64(t.Idle))
}

func (l *ClientLimits) validate(ch *checker, path string) {
	ch.positive(path+".read_header_timeout", int64(l.ReadHeaderTimeout))
	ch.positive(path+".body_idle_timeout", int64(l.BodyIdleTimeout))
	ch.positive(path+".body_min_rate", int64(l.BodyMinRate))
	ch.positive(path+".max_header_bytes", int64(l.MaxHeaderBytes))
	ch.positive(path+".max_body_bytes", int64(l.MaxBodyBytes))
}

// fieldNames checks a list of header field names.
func (c *checker) fieldNames(option string, names []string) {
	for i, name := range names {
		c.check(option+"["+strconv.Itoa(i)+"]", func() string {
			if name == "" {
				return "must be a header field name, got \"\""
			}
			return checkFieldName(name)
		})
	}
}

// validate checks one webhook; names maps the names seen so far to their
// option paths. It parses the templates into w.
func (w *Webhook) validate(ch *checker, path string, names map[string]string) {
	ch.check(path+".name", func() string {
		switch first, dup := names[w.Name]; {
		case w.Name == "":
			return "required: a webhook needs a name (used in its URL, logs and metrics)"
		case !webhookName.MatchString(w.Name):
			return "must be made of a-z, 0-9, _ and -, got " + strconv.Quote(w.Name)
		case dup:
			return "duplicate webhook name " + strconv.Quote(w.Name) + " (also " + first + ")"
		}
		names[w.Name] = path
		return ""
	})
	ch.check(path+".secret", func() string {
		if w.Secret == "" {
			return "required: the key payloads are signed with (write ${NAME} to read it from the environment)"
		}
		return ""
	})
	ch.check(path+".signature_header", func() string { return checkFieldName(w.SignatureHeader) })
	ch.check(path+".timestamp_header", func() string { return checkFieldName(w.TimestampHeader) })
	ch.positive(path+".tolerance", int64(w.Tolerance))
	ch.check(path, func() string {
		if len(w.Tags) == 0 && len(w.URLs) == 0 && len(w.Prefixes) == 0 && len(w.Patterns) == 0 {
			return "webhook purges nothing (set tags, urls, prefixes or patterns)"
		}
		return ""
	})
	w.tagTemplates = ch.templates(path+".tags", w.Tags)
	w.urlTemplates = ch.templates(path+".urls", w.URLs)
	w.prefixTemplates = ch.templates(path+".prefixes", w.Prefixes)
	w.patternTemplates = ch.templates(path+".patterns", w.Patterns)
}

// templates parses the webhook templates of option.
func (c *checker) templates(option string, texts []string) []*template.Template {
	var parsed []*template.Template
	for i, text := range texts {
		name := option + "[" + strconv.Itoa(i) + "]"
		c.check(name, func() string {
			t, err := parseTemplate(name, text)
			if err != nil {
				return "invalid template: " + strings.TrimPrefix(err.Error(), "template: ")
			}
			parsed = append(parsed, t)
			return ""
		})
	}
	return parsed
}

func (w *Warm) validate(ch *checker, path string) {
	for i, u := range w.URLs {
		ch.check(path+".urls["+strconv.Itoa(i)+"]", func() string { return checkURL(u, "http", "https") })
	}
	for i, u := range w.Sitemaps {
		ch.check(path+".sitemaps["+strconv.Itoa(i)+"]", func() string { return checkURL(u, "http", "https") })
	}
	ch.check(path+".concurrency", func() string {
		if w.Concurrency < 1 || w.Concurrency > maxWarmWorkers {
			return "must be 1 to " + strconv.Itoa(maxWarmWorkers) + ", got " + strconv.Itoa(w.Concurrency)
		}
		return ""
	})
}

// validate checks the TLS options; certificate files are loaded, so that a
// bad path or key is refused at start.
func (t *TLSConfig) validate(ch *checker, path string) {
	ch.check(path+".listen", func() string {
		if msg := checkListen(t.Listen); msg != "" {
			return msg
		}
		if t.Listen != "" && len(t.Certificates) == 0 && len(t.ACME.Domains) == 0 && !t.ACME.OnDemand {
			return "HTTPS needs certificates: set tls.certificates, tls.acme.domains or tls.acme.on_demand"
		}
		return ""
	})
	ch.check(path+".redirect_http", func() string {
		if t.RedirectHTTP && t.Listen == "" {
			return "redirecting to HTTPS needs tls.listen"
		}
		return ""
	})
	for i, c := range t.Certificates {
		cpath := path + ".certificates[" + strconv.Itoa(i) + "]"
		ch.check(cpath+".cert_file", func() string { return required(c.CertFile, "the PEM certificate chain") })
		ch.check(cpath+".key_file", func() string { return required(c.KeyFile, "the PEM private key") })
		if c.CertFile == "" || c.KeyFile == "" || ch.x.bad[cpath+".cert_file"] || ch.x.bad[cpath+".key_file"] {
			continue
		}
		ch.check(cpath, func() string { return checkKeyPair(c.CertFile, c.KeyFile) })
	}
	a := &t.ACME
	ch.check(path+".acme.email", func() string {
		if a.Email == "" {
			return ""
		}
		if _, err := mail.ParseAddress(a.Email); err != nil {
			return "must be an e-mail address, got " + strconv.Quote(a.Email)
		}
		return ""
	})
	ch.check(path+".acme.ca", func() string {
		if a.CA == "" {
			return ""
		}
		return checkURL(a.CA, "https")
	})
	ch.check(path+".acme.ca_root", func() string { return checkCAFile(a.CARoot) })
	for i, d := range a.Domains {
		ch.check(path+".acme.domains["+strconv.Itoa(i)+"]", func() string {
			if d == "" || net.ParseIP(strings.Trim(d, "[]")) != nil {
				return "must be a host name, got " + strconv.Quote(d)
			}
			if strings.HasPrefix(d, "*.") {
				// RFC 8555 §7.1.3: a CA issues a wildcard only after a
				// dns-01 challenge, and cachegate solves only HTTP-01 and
				// TLS-ALPN-01.
				return "a wildcard needs the DNS-01 challenge, which cachegate cannot solve: list each name, or use tls.certificates, got " + strconv.Quote(d)
			}
			return checkHost(d)
		})
	}
	ch.check(path+".acme.ask", func() string {
		if a.Ask == "" {
			if a.OnDemand {
				return "required with on_demand: the URL that approves each name, or anyone could make the proxy request certificates"
			}
			return ""
		}
		return checkURL(a.Ask, "http", "https")
	})
}

// validate checks one route; names maps the names seen so far to their
// option paths. names is nil for default_route, which has neither a name
// nor a match of its own.
func (rt *Route) validate(ch *checker, path string, names map[string]string) {
	if names != nil {
		ch.check(path+".name", func() string {
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
		ch.check(path+".match", func() string {
			m := rt.Match
			if m.Host == "" && m.Path == "" && len(m.Methods) == 0 && !m.HasConditions() {
				return "route has no match (set host, path, methods, headers, cookies or query)"
			}
			return ""
		})
		rt.validateConditions(ch, path+".match")
		ch.check(path+".match.host", func() string { return checkHost(rt.Match.Host) })
		ch.check(path+".match.path", func() string { return checkPath(rt.Match.Path) })
		for i, m := range rt.Match.Methods {
			ch.check(path+".match.methods["+strconv.Itoa(i)+"]", func() string {
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
	ch.check(path+".mode", func() string { return oneOf(rt.Mode, ModeRespect, ModeOverride) })
	ch.check(path+".set_cookie", func() string { return oneOf(rt.SetCookie, SetCookiePass, SetCookieStrip, SetCookieStore) })
	ch.check(path+".request_directives", func() string {
		return oneOf(rt.RequestDirectives, RequestDirectivesIgnore, RequestDirectivesHonour)
	})
	ch.check(path+".early_refresh_beta", func() string { return between(rt.EarlyRefreshBeta, 0, maxBeta) })
	ch.check(path+".ttl_jitter", func() string { return between(rt.TTLJitter, 0, maxTTLJitter) })
	ch.check(path+".stale_if_unreachable", func() string {
		if rt.StaleIfUnreachable < 0 || rt.StaleIfUnreachable > maxStaleIfUnreachable {
			return "between 0 (off) and 1d, got " + time.Duration(rt.StaleIfUnreachable).String()
		}
		return ""
	})
	for i, tag := range rt.Tags {
		ch.check(path+".tags["+strconv.Itoa(i)+"]", func() string {
			if tag == "" || strings.ContainsAny(tag, " \t\r\n,") {
				return "a tag is one word without spaces or commas, got " + strconv.Quote(tag)
			}
			return ""
		})
	}
	for i, q := range rt.KeyOptions.IgnoreQuery {
		ch.check(path+".key.ignore_query["+strconv.Itoa(i)+"]", func() string {
			if q == "" || strings.Contains(strings.TrimSuffix(q, "*"), "*") {
				return "a parameter name, with an optional trailing * for a prefix, got " + strconv.Quote(q)
			}
			return ""
		})
	}
	for i, h := range rt.KeyOptions.Headers {
		ch.check(path+".key.headers["+strconv.Itoa(i)+"]", func() string {
			if !isToken(h) {
				return "invalid header name " + strconv.Quote(h)
			}
			return ""
		})
	}
	for i, c := range rt.KeyOptions.Cookies {
		ch.check(path+".key.cookies["+strconv.Itoa(i)+"]", func() string {
			if !isToken(c) {
				return "invalid cookie name " + strconv.Quote(c)
			}
			return ""
		})
	}
	rt.validateShaping(ch, path)
	rt.validateInvalidate(ch, path)
	ch.fieldNames(path+".request.drop_fields", rt.Request.DropFields)
	ch.fieldNames(path+".request.allow_fields", rt.Request.AllowFields)
	for i, name := range rt.Request.AllowFields {
		ch.check(path+".request.allow_fields["+strconv.Itoa(i)+"]", func() string {
			if httpfield.IsForwarding(http.CanonicalHeaderKey(name)) {
				return strconv.Quote(name) + " is a forwarding field: cachegate sets it (see trusted_proxies), a client never does"
			}
			return ""
		})
	}
}

// validateDefaultRouteOwnOptions refuses default_route.name and
// default_route.match, which complete would silently overwrite: the
// default route is always named "default" and takes what no route matches.
func validateDefaultRouteOwnOptions(ch *checker) {
	ch.check("default_route.name", func() string {
		if ch.x.set["default_route.name"] {
			return `not allowed: default_route is always named "default"`
		}
		return ""
	})
	ch.check("default_route.match", func() string {
		if ch.x.set["default_route.match"] {
			return "not allowed: default_route takes the requests no route matches (add a route to match some)"
		}
		return ""
	})
}

// checkPath accepts "" (any path), a path prefix or a path glob
// (internal/glob), which must start with "/".
func checkPath(path string) string {
	switch {
	case path == "":
		return ""
	case path[0] != '/':
		return fmt.Sprintf("must start with \"/\", got %q", path)
	case glob.IsPattern(path) || glob.HasCapture(path):
		if _, err := glob.RouteRegexp(path); err != nil {
			return fmt.Sprintf("invalid pattern %q: %v", path, err)
		}
	}
	return ""
}

func oneOf(v string, allowed ...string) string {
	if v == "" || slices.Contains(allowed, v) {
		return ""
	}
	return "must be " + strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1] + ", got " + strconv.Quote(v)
}

func positive(n int64) string {
	if n <= 0 {
		return "must be greater than 0"
	}
	return ""
}

// between checks that f is within [lo, hi].
func between(f, lo, hi float64) string {
	if f >= lo && f <= hi {
		return ""
	}
	return "must be " + strconv.FormatFloat(lo, 'g', -1, 64) + " to " + strconv.FormatFloat(hi, 'g', -1, 64) + ", got " + strconv.FormatFloat(f, 'g', -1, 64)
}

func required(v, what string) string {
	if v == "" {
		return "required: " + what
	}
	return ""
}

// checkFieldName accepts "" (left to its default) or a header field name.
func checkFieldName(name string) string {
	if name != "" && !isToken(name) {
		return "invalid header name " + strconv.Quote(name)
	}
	return ""
}

// checkURL accepts an absolute URL with one of schemes and a host.
func checkURL(s string, schemes ...string) string {
	u, err := url.Parse(s)
	if err != nil || !slices.Contains(schemes, u.Scheme) || u.Host == "" {
		return "must be an absolute " + strings.Join(schemes, " or ") + " URL, got " + strconv.Quote(s)
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

// validateListenClash refuses two listeners (listen, admin.listen,
// tls.listen) on one port: the second bind would fail at start. A host
// left empty, 0.0.0.0 or :: means every interface, so ":8080" clashes
// with "0.0.0.0:8080" and with "127.0.0.1:8080" too (the wildcard bind
// covers the loopback one); port 0 (any free port) never clashes.
func (c *Config) validateListenClash(ch *checker) {
	listeners := []struct{ option, addr string }{
		{"listen", c.Listen}, {"admin.listen", c.Admin.Listen}, {"tls.listen", c.TLS.Listen},
	}
	for i, b := range listeners {
		for _, a := range listeners[:i] {
			ch.check(b.option, func() string {
				if ch.x.bad[a.option] || !sameListenAddr(a.addr, b.addr) {
					return ""
				}
				return "same port as " + a.option + " (" + strconv.Quote(a.addr) + " and " + strconv.Quote(b.addr) +
					"): each listener needs its own host:port"
			})
		}
	}
}

// sameListenAddr reports whether listening on a and on b would clash:
// the same port on the same host, or on every interface for either.
func sameListenAddr(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" || pa == "" {
		return false
	}
	return isWildcardHost(ha) || isWildcardHost(hb) || strings.EqualFold(ha, hb)
}

// isWildcardHost reports whether a listen host means every interface.
func isWildcardHost(h string) bool {
	return h == "" || h == "0.0.0.0" || h == "::"
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

// complete fills in what depends on other options once the file is
// decoded, and puts header names in canonical form; x says which options
// were written.
func (c *Config) complete(x *index) {
	c.DefaultRoute.Name = defaultRouteName
	c.DefaultRoute.Match = Match{}
	if x.set["cache.targeted_fields"] {
		canonical(c.Cache.TargetedFields) // the default's are as RFC 9213 writes them
	}
	canonical(c.Cache.StripResponseFields)
	th := &c.Cache.TagHeaders
	th.SurrogateKey = http.CanonicalHeaderKey(th.SurrogateKey)
	th.CacheTag = http.CanonicalHeaderKey(th.CacheTag)
	for i := range c.Routes {
		c.Routes[i].complete(x, "routes["+strconv.Itoa(i)+"]", &c.Cache)
	}
	c.DefaultRoute.complete(x, "default_route", &c.Cache)
	c.completeBackends(x)
	if c.Log.Access {
		c.AccessLog.Enabled = true // the short form
	}
}

// complete fills in the options of the route at path that default to
// others: early_refresh_beta to cache.early_refresh_beta.
func (rt *Route) complete(x *index, path string, cache *CacheConfig) {
	if !x.set[path+".early_refresh_beta"] {
		rt.EarlyRefreshBeta = cache.EarlyRefreshBeta
	}
	canonical(rt.Request.DropFields)
	canonical(rt.Request.AllowFields)
	canonical(rt.KeyOptions.Headers)
	for i := range rt.Match.Headers {
		rt.Match.Headers[i].Name = http.CanonicalHeaderKey(rt.Match.Headers[i].Name)
	}
	rt.Request.SetFields = canonicalKeys(rt.Request.SetFields)
	rt.Response.SetFields = canonicalKeys(rt.Response.SetFields)
	canonical(rt.Response.RemoveFields)
}

// canonical puts header field names in canonical form.
func canonical(names []string) {
	for i, name := range names {
		names[i] = http.CanonicalHeaderKey(name)
	}
}
