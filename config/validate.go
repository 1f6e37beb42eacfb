package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/cachegate/cachegate/internal/glob"
	"github.com/cachegate/cachegate/internal/httpfield"
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
	defaultSurrogateKey   = "Surrogate-Key"
	defaultCacheTag       = "Cache-Tag"
	defaultCollapseWait   = Duration(10 * time.Second)
	defaultHitForPass     = Duration(10 * time.Second)
	defaultBeta           = 1.0
	defaultTTLJitter      = 0.1
	// defaultStaleIfUnreachable: long enough to ride out an origin restart
	// or a deploy, short enough that nobody reads a page for long without
	// the origin having confirmed it.
	defaultStaleIfUnreachable = Duration(5 * time.Minute)
	defaultConnect            = Duration(5 * time.Second)
	defaultRespHeader         = Duration(60 * time.Second)
	defaultIdle               = Duration(90 * time.Second)
	defaultShutdown           = Duration(30 * time.Second)
	defaultClientWrite        = Duration(30 * time.Second)
	defaultSignature          = "X-Signature"
	defaultTolerance          = Duration(5 * time.Minute)
	defaultWarmWorkers        = 4
	defaultACMECA             = "https://acme-v02.api.letsencrypt.org/directory"
	defaultHeaderTimeout      = Duration(10 * time.Second)
	defaultBodyIdle           = Duration(30 * time.Second)
	defaultBodyMinRate        = 500
	defaultMaxHeaderBytes     = 64 << 10
	defaultMaxBodyBytes       = 64 << 20
)

// defaultL1WhenRedisDown is long enough to ride out a Redis restart or a
// failover (seconds), and short enough that an instance cut off from a
// Redis the others still reach serves what they purge for half a minute at
// most.
const defaultL1WhenRedisDown = Duration(30 * time.Second)

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
	p.fieldNames("cache.targeted_fields", cfg.Cache.TargetedFields)
	p.fieldNames("cache.strip_response_fields", cfg.Cache.StripResponseFields)
	p.check("cache.tag_headers.surrogate_key", func() string { return checkFieldName(cfg.Cache.TagHeaders.SurrogateKey) })
	p.check("cache.tag_headers.cache_tag", func() string { return checkFieldName(cfg.Cache.TagHeaders.CacheTag) })
	p.duration("cache.collapse.wait", cfg.Cache.Collapse.Wait)
	p.duration("cache.collapse.hit_for_pass", cfg.Cache.Collapse.HitForPass)
	p.check("cache.early_refresh_beta", func() string { return between(cfg.Cache.EarlyRefreshBeta, 0, maxBeta) })
	p.duration("origin_timeouts.connect", cfg.OriginTimeouts.Connect)
	p.duration("origin_timeouts.response_header", cfg.OriginTimeouts.ResponseHeader)
	p.duration("origin_timeouts.idle", cfg.OriginTimeouts.Idle)
	p.duration("shutdown_timeout", cfg.ShutdownTimeout)
	p.duration("client_timeouts.write", cfg.ClientTimeouts.Write)
	names := map[string]string{}
	for i := range cfg.Routes {
		p.route(&cfg.Routes[i], "routes["+strconv.Itoa(i)+"]", names)
	}
	p.route(&cfg.DefaultRoute, "default_route", nil)
	hooks := map[string]string{}
	for i := range cfg.Webhooks {
		p.webhook(&cfg.Webhooks[i], "webhooks["+strconv.Itoa(i)+"]", hooks)
	}
	p.warm(&cfg.Warm)
	p.https(&cfg.TLS)
	p.trustedProxies(cfg)
	p.clientLimits(&cfg.ClientLimits)
}

// trustedProxies checks trusted_proxies.
func (p *parser) trustedProxies(cfg *Config) {
	for i, s := range cfg.TrustedProxies {
		p.check("trusted_proxies["+strconv.Itoa(i)+"]", func() string {
			if _, err := ParseTrustedProxy(s); err != nil {
				return "must be a CIDR (\"10.0.0.0/8\", \"2001:db8::/32\") or an IP address, got " + strconv.Quote(s)
			}
			return ""
		})
	}
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

// clientLimits checks the client_limits section.
func (p *parser) clientLimits(l *ClientLimits) {
	p.duration("client_limits.read_header_timeout", l.ReadHeaderTimeout)
	p.duration("client_limits.body_idle_timeout", l.BodyIdleTimeout)
	for _, o := range []struct {
		option string
		n      ByteSize
	}{
		{"client_limits.body_min_rate", l.BodyMinRate},
		{"client_limits.max_header_bytes", l.MaxHeaderBytes},
		{"client_limits.max_body_bytes", l.MaxBodyBytes},
	} {
		p.check(o.option, func() string { return positive(p.set[o.option], int64(o.n)) })
	}
}

// fieldNames checks a list of header field names.
func (p *parser) fieldNames(option string, names []string) {
	for i, name := range names {
		p.check(option+"["+strconv.Itoa(i)+"]", func() string {
			if name == "" {
				return "must be a header field name, got \"\""
			}
			return checkFieldName(name)
		})
	}
}

// duration checks that a duration option, when written, is positive.
func (p *parser) duration(option string, d Duration) {
	p.check(option, func() string { return positive(p.set[option], int64(d)) })
}

// webhook checks one webhook; names maps the names seen so far to their
// option paths. It parses the templates into w.
func (p *parser) webhook(w *Webhook, path string, names map[string]string) {
	p.check(path+".name", func() string {
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
	p.check(path+".secret", func() string {
		if w.Secret == "" {
			return "required: the key payloads are signed with (write ${NAME} to read it from the environment)"
		}
		return ""
	})
	p.check(path+".signature_header", func() string { return checkFieldName(w.SignatureHeader) })
	p.check(path+".timestamp_header", func() string { return checkFieldName(w.TimestampHeader) })
	p.duration(path+".tolerance", w.Tolerance)
	p.check(path, func() string {
		if len(w.Tags) == 0 && len(w.URLs) == 0 && len(w.Prefixes) == 0 {
			return "webhook purges nothing (set tags, urls or prefixes)"
		}
		return ""
	})
	w.tagTemplates = p.templates(path+".tags", w.Tags)
	w.urlTemplates = p.templates(path+".urls", w.URLs)
	w.prefixTemplates = p.templates(path+".prefixes", w.Prefixes)
}

// templates parses the webhook templates of option.
func (p *parser) templates(option string, texts []string) []*template.Template {
	var parsed []*template.Template
	for i, text := range texts {
		name := option + "[" + strconv.Itoa(i) + "]"
		p.check(name, func() string {
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

// warm checks the warm options.
func (p *parser) warm(w *Warm) {
	for i, u := range w.URLs {
		p.check("warm.urls["+strconv.Itoa(i)+"]", func() string { return checkURL(u, "http", "https") })
	}
	for i, u := range w.Sitemaps {
		p.check("warm.sitemaps["+strconv.Itoa(i)+"]", func() string { return checkURL(u, "http", "https") })
	}
	p.check("warm.concurrency", func() string {
		if p.set["warm.concurrency"] && (w.Concurrency < 1 || w.Concurrency > maxWarmWorkers) {
			return "must be 1 to " + strconv.Itoa(maxWarmWorkers) + ", got " + strconv.Itoa(w.Concurrency)
		}
		return ""
	})
}

// https checks the TLS options; certificate files are loaded, so that a bad
// path or key is refused at start.
func (p *parser) https(t *TLSConfig) {
	p.check("tls.listen", func() string {
		if msg := checkListen(t.Listen); msg != "" {
			return msg
		}
		if t.Listen != "" && len(t.Certificates) == 0 && len(t.ACME.Domains) == 0 && !t.ACME.OnDemand {
			return "HTTPS needs certificates: set tls.certificates, tls.acme.domains or tls.acme.on_demand"
		}
		return ""
	})
	p.check("tls.redirect_http", func() string {
		if t.RedirectHTTP && t.Listen == "" {
			return "redirecting to HTTPS needs tls.listen"
		}
		return ""
	})
	for i, c := range t.Certificates {
		path := "tls.certificates[" + strconv.Itoa(i) + "]"
		p.check(path+".cert_file", func() string { return required(c.CertFile, "the PEM certificate chain") })
		p.check(path+".key_file", func() string { return required(c.KeyFile, "the PEM private key") })
		if c.CertFile == "" || c.KeyFile == "" || p.bad[path+".cert_file"] || p.bad[path+".key_file"] {
			continue
		}
		p.check(path, func() string {
			if _, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile); err != nil {
				return "cannot load certificate " + strconv.Quote(c.CertFile) + " with key " + strconv.Quote(c.KeyFile) + ": " + err.Error()
			}
			return ""
		})
	}
	a := &t.ACME
	p.check("tls.acme.email", func() string {
		if a.Email == "" {
			return ""
		}
		if _, err := mail.ParseAddress(a.Email); err != nil {
			return "must be an e-mail address, got " + strconv.Quote(a.Email)
		}
		return ""
	})
	p.check("tls.acme.ca", func() string {
		if a.CA == "" {
			return ""
		}
		return checkURL(a.CA, "https")
	})
	p.check("tls.acme.ca_root", func() string {
		if a.CARoot == "" {
			return ""
		}
		pem, err := os.ReadFile(a.CARoot)
		if err != nil {
			return err.Error()
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return "no PEM certificate in " + strconv.Quote(a.CARoot)
		}
		return ""
	})
	for i, d := range a.Domains {
		p.check("tls.acme.domains["+strconv.Itoa(i)+"]", func() string {
			if d == "" || net.ParseIP(strings.Trim(d, "[]")) != nil {
				return "must be a host name, optionally led by \"*.\", got " + strconv.Quote(d)
			}
			return checkHost(d)
		})
	}
	p.check("tls.acme.ask", func() string {
		if a.Ask == "" {
			if a.OnDemand {
				return "required with on_demand: the URL that approves each name, or anyone could make the proxy request certificates"
			}
			return ""
		}
		return checkURL(a.Ask, "http", "https")
	})
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
		p.check(path+".match.path", func() string { return checkPath(rt.Match.Path) })
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
	p.check(path+".mode", func() string { return oneOf(rt.Mode, ModeRespect, ModeOverride) })
	p.check(path+".set_cookie", func() string { return oneOf(rt.SetCookie, SetCookiePass, SetCookieStrip, SetCookieStore) })
	p.check(path+".request_directives", func() string {
		return oneOf(rt.RequestDirectives, RequestDirectivesIgnore, RequestDirectivesHonour)
	})
	p.check(path+".early_refresh_beta", func() string { return between(rt.EarlyRefreshBeta, 0, maxBeta) })
	p.check(path+".ttl_jitter", func() string { return between(rt.TTLJitter, 0, maxTTLJitter) })
	p.check(path+".stale_if_unreachable", func() string {
		if rt.StaleIfUnreachable < 0 || rt.StaleIfUnreachable > maxStaleIfUnreachable {
			return "between 0 (off) and 1d, got " + time.Duration(rt.StaleIfUnreachable).String()
		}
		return ""
	})
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
	p.fieldNames(path+".request.drop_fields", rt.Request.DropFields)
	p.fieldNames(path+".request.allow_fields", rt.Request.AllowFields)
	for i, name := range rt.Request.AllowFields {
		p.check(path+".request.allow_fields["+strconv.Itoa(i)+"]", func() string {
			if httpfield.IsForwarding(http.CanonicalHeaderKey(name)) {
				return strconv.Quote(name) + " is a forwarding field: cachegate sets it (see trusted_proxies), a client never does"
			}
			return ""
		})
	}
}

// checkPath accepts "" (any path), a path prefix or a path glob
// (internal/glob), which must start with "/".
func checkPath(path string) string {
	switch {
	case path == "":
		return ""
	case path[0] != '/':
		return fmt.Sprintf("must start with \"/\", got %q", path)
	case glob.IsPattern(path):
		if _, err := glob.Regexp(path); err != nil {
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

func positive(set bool, n int64) string {
	if set && n <= 0 {
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
	if !p.set["store.tiered.l1_when_redis_down"] {
		cfg.Store.Tiered.L1WhenRedisDown = defaultL1WhenRedisDown
	}
	setDefault(&cfg.Cache.MaxObjectBytes, defaultMaxObjectBytes)
	setDefault(&cfg.Cache.Name, defaultCacheName)
	c := &cfg.Cache
	canonical(c.TargetedFields)
	if c.TargetedFields == nil {
		c.TargetedFields = slices.Clone(DefaultTargets)
	}
	canonical(c.StripResponseFields)
	setDefault(&c.TagHeaders.SurrogateKey, defaultSurrogateKey)
	setDefault(&c.TagHeaders.CacheTag, defaultCacheTag)
	c.TagHeaders.SurrogateKey = http.CanonicalHeaderKey(c.TagHeaders.SurrogateKey)
	c.TagHeaders.CacheTag = http.CanonicalHeaderKey(c.TagHeaders.CacheTag)
	setDefault(&c.Collapse.Wait, defaultCollapseWait)
	setDefault(&c.Collapse.HitForPass, defaultHitForPass)
	if !p.set["cache.early_refresh_beta"] {
		c.EarlyRefreshBeta = defaultBeta
	}
	for i := range cfg.Routes {
		p.routeDefaults(&cfg.Routes[i], "routes["+strconv.Itoa(i)+"]", c)
	}
	cfg.DefaultRoute.Name = defaultRouteName
	cfg.DefaultRoute.Match = Match{}
	p.routeDefaults(&cfg.DefaultRoute, "default_route", c)
	setDefault(&cfg.OriginTimeouts.Connect, defaultConnect)
	setDefault(&cfg.OriginTimeouts.ResponseHeader, defaultRespHeader)
	setDefault(&cfg.OriginTimeouts.Idle, defaultIdle)
	setDefault(&cfg.ShutdownTimeout, defaultShutdown)
	setDefault(&cfg.ClientTimeouts.Write, defaultClientWrite)
	for i := range cfg.Webhooks {
		w := &cfg.Webhooks[i]
		setDefault(&w.SignatureHeader, defaultSignature)
		setDefault(&w.Tolerance, defaultTolerance)
	}
	setDefault(&cfg.Warm.Concurrency, defaultWarmWorkers)
	setDefault(&cfg.TLS.ACME.CA, defaultACMECA)
	if cfg.TLS.HTTP2 == nil {
		http2 := true
		cfg.TLS.HTTP2 = &http2
	}
	l := &cfg.ClientLimits
	setDefault(&l.ReadHeaderTimeout, defaultHeaderTimeout)
	setDefault(&l.BodyIdleTimeout, defaultBodyIdle)
	setDefault(&l.BodyMinRate, defaultBodyMinRate)
	setDefault(&l.MaxHeaderBytes, defaultMaxHeaderBytes)
	setDefault(&l.MaxBodyBytes, defaultMaxBodyBytes)
}

// routeDefaults fills the unset options of the route at path; cache is the
// cache section, already defaulted.
func (p *parser) routeDefaults(rt *Route, path string, cache *CacheConfig) {
	setDefault(&rt.Mode, ModeRespect)
	setDefault(&rt.SetCookie, SetCookiePass)
	setDefault(&rt.RequestDirectives, RequestDirectivesIgnore)
	if !p.set[path+".early_refresh_beta"] {
		rt.EarlyRefreshBeta = cache.EarlyRefreshBeta
	}
	if !p.set[path+".ttl_jitter"] {
		rt.TTLJitter = defaultTTLJitter
	}
	if !p.set[path+".stale_if_unreachable"] {
		rt.StaleIfUnreachable = defaultStaleIfUnreachable
	}
	if rt.KeyOptions.IgnoreQuery == nil {
		rt.KeyOptions.IgnoreQuery = DefaultIgnoreQuery()
	}
	canonical(rt.Request.DropFields)
	canonical(rt.Request.AllowFields)
}

// canonical puts header field names in canonical form.
func canonical(names []string) {
	for i, name := range names {
		names[i] = http.CanonicalHeaderKey(name)
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
	canonical(k.Headers)
}
