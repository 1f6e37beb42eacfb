package config

import (
	"text/template"
	"time"
)

// Config is the whole configuration file. Default returns every option's
// default, which Parse starts from (the one place defaults are written);
// config.example.yaml documents every option with its default.
//
// An option tagged reload:"restart" (with everything below it) is read
// once, when the process starts: a reload that changes it keeps the old
// value and says so (RestartNeeded). Every other option takes effect at a
// reload.
//
// An option written as an empty string ("" or ${VAR} of an empty
// variable) takes its default, unless it is tagged empty:"keep"
// (admin.listen, where "" turns the admin listener off).
type Config struct {
	// Listen is the proxy's HTTP address.
	Listen string `yaml:"listen" reload:"restart"`
	// Origin is the backend's base URL, e.g. "http://127.0.0.1:9000". Required.
	Origin string `yaml:"origin"`
	// Backends are named groups of upstream servers that routes send their
	// requests to (Route.Backend); Origin is the backend of routes that
	// name none.
	Backends []Backend `yaml:"backends"`
	// Admin is the admin listener (purge, metrics, health).
	Admin AdminConfig `yaml:"admin"`
	// Log configures log/slog.
	Log LogConfig `yaml:"log"`
	// AccessLog is the access log, apart from Log.
	AccessLog AccessLogConfig `yaml:"access_log"`
	// Store says where entries live.
	Store StoreConfig `yaml:"store" reload:"restart"`
	// Cache holds cache-wide limits and names.
	Cache CacheConfig `yaml:"cache"`
	// Routes are tried in order; the first that matches a request applies.
	Routes []Route `yaml:"routes"`
	// DefaultRoute applies when no route matches. Its Match is ignored and
	// its Name is always "default".
	DefaultRoute Route `yaml:"default_route"`
	// OriginTimeouts bound the phases of a request to the origin.
	OriginTimeouts OriginTimeouts `yaml:"origin_timeouts"`
	// ClientTimeouts bound what a client may hold.
	ClientTimeouts ClientTimeouts `yaml:"client_timeouts"`
	// ShutdownTimeout bounds a graceful shutdown: in-flight requests get
	// this long to finish before connections are closed.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// Webhooks turn signed POSTs from a CMS into purges.
	Webhooks []Webhook `yaml:"webhooks"`
	// Warm lists what is fetched into the cache at start (and periodically).
	Warm Warm `yaml:"warm"`
	// TLS configures the HTTPS listener.
	TLS TLSConfig `yaml:"tls" reload:"restart"`
	// TrustedProxies are the CIDRs (or single addresses) of the proxies in
	// front of cachegate (a CDN, a load balancer) whose X-Forwarded-For,
	// Forwarded for= and X-Forwarded-Proto are kept. From any other peer,
	// the forwarding fields are replaced by cachegate's own.
	TrustedProxies []string `yaml:"trusted_proxies"`

	// ClientLimits bound what a client may send and how slowly.
	ClientLimits ClientLimits `yaml:"client_limits"`

	// GC tunes Go's garbage collector for a proxy's allocation pattern.
	GC GCConfig `yaml:"gc" reload:"restart"`

	// HitLane answers the plain listener's HTTP/1.1 hits without net/http
	// (proxy.HitLane); false leaves every request to net/http.
	HitLane bool `yaml:"hit_lane" reload:"restart"`

	// File is the path the config was loaded from (not a YAML option).
	File string `yaml:"-"`
	// Warnings are what the file allows but likely did not mean (a backend
	// no route uses), with lines, found by Parse (not a YAML option). They
	// never refuse the config: `cachegate validate` prints them, a start or
	// a reload logs them.
	Warnings []Problem `yaml:"-"`
}

// GCConfig tunes Go's garbage collector.
type GCConfig struct {
	// HeapFloor is the heap size below which no collection starts: after
	// each one the GC percentage is raised so that the next starts at
	// HeapFloor at the earliest, never lowered below GOGC's. A small live
	// heap that allocates per request (each Redis hit's reply) is
	// otherwise collected every few MB. 0 leaves the collector to GOGC.
	HeapFloor ByteSize `yaml:"heap_floor"`
}

// AdminConfig is the admin listener.
type AdminConfig struct {
	// Listen is the admin address. "" disables it.
	Listen string `yaml:"listen" reload:"restart" empty:"keep"`
	// Token is the bearer token the admin API requires; when empty, the
	// admin API refuses every purge.
	Token string `yaml:"token"`
}

// LogConfig configures logging.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
	// Access is the short form of access_log.enabled: true (the access
	// log then has access_log's format and output).
	Access bool `yaml:"access"`
}

// AccessLogConfig is the access log: one record per request, in a format
// log pipelines read, to a destination of its own, whatever log.level
// says. Every option applies on reload.
type AccessLogConfig struct {
	// Enabled writes the access log (log.access: true also does).
	Enabled bool `yaml:"enabled"`
	// Format is json (one object per line) or combined (the NCSA combined
	// log format).
	Format string `yaml:"format"`
	// Output is stdout, stderr or a file path (relative to the config
	// file's directory), opened for appending and reopened on SIGUSR1.
	Output string `yaml:"output"`
}

// StoreConfig says where entries live.
type StoreConfig struct {
	// Backend is memory, redis or tiered (memory L1 over redis).
	Backend string `yaml:"backend"`
	// Memory configures the in-process store (and the L1 of tiered).
	Memory MemoryConfig `yaml:"memory"`
	// Redis configures the Redis store (backend redis or tiered).
	Redis RedisConfig `yaml:"redis"`
	// Tiered configures the tiered store's L1.
	Tiered TieredConfig `yaml:"tiered"`
}

// TieredConfig configures the tiered store.
type TieredConfig struct {
	// L1WhenRedisDown is how long after Redis stopped answering the L1 still
	// serves its fresh entries (no purge can be written, so none can be
	// acknowledged); 0 turns L1 off while Redis is down.
	L1WhenRedisDown Duration `yaml:"l1_when_redis_down"`
}

// MemoryConfig configures the in-process store.
type MemoryConfig struct {
	// MaxBytes bounds the bytes the store holds.
	MaxBytes ByteSize `yaml:"max_bytes"`
}

// RedisConfig configures the Redis store: one node, Sentinel or Cluster.
type RedisConfig struct {
	// Addrs are host:port pairs. One address is a single node (or, with
	// Cluster true, a cluster seed); several are cluster seeds, or Sentinels
	// when MasterName is set.
	Addrs []string `yaml:"addrs"`
	// Cluster forces cluster mode with a single seed address.
	Cluster bool `yaml:"cluster"`
	// MasterName selects Sentinel mode.
	MasterName string `yaml:"master_name"`
	// Username and Password authenticate (ACL).
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// DB is the database number (single node and Sentinel only).
	DB int `yaml:"db"`
	// KeyPrefix starts every key.
	KeyPrefix string `yaml:"key_prefix"`
	// TLS enables TLS to Redis.
	TLS RedisTLSConfig `yaml:"tls"`
	// DialTimeout bounds a connect.
	DialTimeout Duration `yaml:"dial_timeout"`
	// ReadTimeout and WriteTimeout bound one command.
	ReadTimeout  Duration `yaml:"read_timeout"`
	WriteTimeout Duration `yaml:"write_timeout"`
	// PoolSize is the connections per node. 0 is go-redis's own default, 10
	// per CPU.
	PoolSize int `yaml:"pool_size"`
}

// RedisTLSConfig is TLS to Redis.
type RedisTLSConfig struct {
	// Enabled turns TLS on.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle to trust instead of the system roots.
	CAFile string `yaml:"ca_file"`
	// ServerName overrides the name verified in the server's certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify disables verification (tests only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// CacheConfig holds cache-wide limits and names.
type CacheConfig struct {
	// MaxObjectBytes: larger responses stream through and are not stored.
	MaxObjectBytes ByteSize `yaml:"max_object_bytes"`
	// Name is this cache's name in Cache-Status (RFC 9211).
	Name string `yaml:"name"`
	// TargetedFields are the RFC 9213 targeted cache-control fields obeyed,
	// most specific first, in canonical form. An explicit [] obeys none.
	TargetedFields []string `yaml:"targeted_fields"`
	// StripResponseFields are response header fields removed before a
	// response leaves the proxy (e.g. CDN-Cache-Control), in canonical form.
	StripResponseFields []string `yaml:"strip_response_fields"`
	// TagHeaders names the response headers that carry an entry's tags.
	TagHeaders TagHeaders `yaml:"tag_headers"`
	// ForwardTagHeaders keeps the tag headers in responses sent to clients.
	ForwardTagHeaders bool `yaml:"forward_tag_headers"`
	// Collapse configures request collapsing (one origin fill per key).
	Collapse CollapseConfig `yaml:"collapse"`
	// EarlyRefreshBeta is the early_refresh_beta of routes that do not set
	// their own. 0 to 10.
	EarlyRefreshBeta float64 `yaml:"early_refresh_beta"`
	// MaxPatternPurges bounds the pattern purges active at once (each
	// costs every hit a comparison, and a glob match on entries older
	// than it). A pattern purge beyond it purges the pattern's host, or
	// everything for a pattern on every host, instead: never less.
	MaxPatternPurges int `yaml:"max_pattern_purges"`
}

// TagHeaders names the response headers from which an entry's tags are read.
type TagHeaders struct {
	// SurrogateKey holds a space-separated list of tags.
	SurrogateKey string `yaml:"surrogate_key"`
	// CacheTag holds a comma-separated list of tags.
	CacheTag string `yaml:"cache_tag"`
}

// CollapseConfig bounds request collapsing.
type CollapseConfig struct {
	// Wait is how long a request waits for another request's fill of the
	// same key before going to the origin itself.
	Wait Duration `yaml:"wait"`
	// HitForPass is how long a key whose fill turned out uncacheable is
	// remembered, so that its requests go to the origin at once instead of
	// queueing behind one another.
	HitForPass Duration `yaml:"hit_for_pass"`
}

// OriginTimeouts bound the phases of a request to the origin.
type OriginTimeouts struct {
	// Connect bounds establishing a connection (TCP and TLS).
	Connect Duration `yaml:"connect"`
	// ResponseHeader bounds the wait for the response headers once the
	// request is sent, and, while a response is being stored, the wait for
	// each next piece of its body.
	ResponseHeader Duration `yaml:"response_header"`
	// Idle is how long an idle keep-alive connection is kept.
	Idle Duration `yaml:"idle"`
}

// ClientTimeouts bound what a client may hold.
type ClientTimeouts struct {
	// Write is how long a client has to accept each piece (32 KiB) of its
	// response; renewed on progress. A client that stops reading is cut
	// after it, without holding up the fill or anyone else.
	Write Duration `yaml:"write"`
}

// Webhook turns a signed POST (e.g. from a CMS) into a purge: its JSON
// payload is rendered through the templates to tags, URLs and prefixes.
type Webhook struct {
	// Name identifies the webhook in its URL, logs and metrics. Required,
	// unique, made of a-z, 0-9, "_" and "-".
	Name string `yaml:"name"`
	// Secret is the HMAC-SHA256 key the payload is signed with. Required.
	Secret string `yaml:"secret"`
	// SignatureHeader is the request header carrying the signature.
	SignatureHeader string `yaml:"signature_header"`
	// TimestampHeader is the request header carrying the signing time.
	// When empty, there is no replay check.
	TimestampHeader string `yaml:"timestamp_header"`
	// Tolerance is how far the timestamp may be from now.
	Tolerance Duration `yaml:"tolerance"`
	// Tags are text/template templates rendered to the tags to purge.
	Tags []string `yaml:"tags"`
	// URLs are templates rendered to the URLs to purge.
	URLs []string `yaml:"urls"`
	// Prefixes are templates rendered to the URL prefixes to purge.
	Prefixes []string `yaml:"prefixes"`
	// Soft marks the purged entries stale instead of deleting them.
	Soft bool `yaml:"soft"`
	// Patterns are templates rendered to the URL patterns to purge (path
	// globs, optionally after a host; see the admin API's patterns).
	Patterns []string `yaml:"patterns"`

	// tagTemplates, urlTemplates and prefixTemplates are Tags, URLs and
	// Prefixes parsed by Parse.
	tagTemplates    []*template.Template
	urlTemplates    []*template.Template
	prefixTemplates []*template.Template
	// patternTemplates are Patterns parsed by Parse.
	patternTemplates []*template.Template
}

// Warm lists URLs fetched into the cache at start and, with an interval,
// again periodically.
type Warm struct {
	// URLs are absolute http or https URLs to fetch.
	URLs []string `yaml:"urls"`
	// Sitemaps are absolute URLs of sitemap.xml files whose URLs are
	// fetched.
	Sitemaps []string `yaml:"sitemaps"`
	// Interval is the time between warm runs. 0: only at start.
	Interval Duration `yaml:"interval"`
	// Concurrency is the number of fetches run at once, 1 to 64.
	Concurrency int `yaml:"concurrency"`
}

// TLSConfig configures the HTTPS listener.
type TLSConfig struct {
	// Listen is the HTTPS address (host:port); when empty, there is no
	// HTTPS.
	Listen string `yaml:"listen"`
	// Certificates are static certificate and key pairs.
	Certificates []CertificateFiles `yaml:"certificates"`
	// ACME obtains and renews certificates automatically.
	ACME ACMEConfig `yaml:"acme"`
	// RedirectHTTP answers every request to the HTTP listener (listen) with
	// a redirect to HTTPS instead of serving it.
	RedirectHTTP bool `yaml:"redirect_http"`
	// HTTP2 offers HTTP/2 over TLS.
	HTTP2 *bool `yaml:"http2"`
}

// CertificateFiles is a static certificate and its private key, both PEM.
type CertificateFiles struct {
	// CertFile is the certificate chain, leaf first. Required.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the private key. Required.
	KeyFile string `yaml:"key_file"`
}

// ACMEConfig obtains certificates from an ACME CA (RFC 8555).
type ACMEConfig struct {
	// Email is the account's contact address.
	Email string `yaml:"email"`
	// CA is the ACME directory URL, absolute https.
	CA string `yaml:"ca"`
	// CARoot is a PEM file of roots to trust for CA (e.g. a private CA).
	// When empty, the system roots are trusted.
	CARoot string `yaml:"ca_root"`
	// Domains are the host names to get certificates for; "*.example.com"
	// asks for a wildcard.
	Domains []string `yaml:"domains"`
	// OnDemand gets a certificate at the first TLS handshake for a name,
	// once Ask approves it.
	OnDemand bool `yaml:"on_demand"`
	// Ask is the URL asked (GET ?domain=NAME) whether a certificate may be
	// obtained on demand; a 2xx answer approves. Required with OnDemand.
	Ask string `yaml:"ask"`
	// StorageDir is where certificates and keys are kept. When empty: in
	// Redis when the store backend is redis or tiered, else "./certmagic".
	StorageDir string `yaml:"storage_dir"`
}

// Route matches requests and says how to cache them.
type Route struct {
	// Name identifies the route in metrics, logs and purges. Required, unique.
	Name string `yaml:"name"`
	// Match selects the requests the route applies to. At least one of its
	// fields must be set.
	Match Match `yaml:"match"`
	// TTL: in mode override, the freshness lifetime of every storable
	// response; in mode respect, the lifetime of a response that carries no
	// explicit freshness (a heuristic, RFC 9111 §4.2.2).
	TTL Duration `yaml:"ttl"`
	// Mode is respect (the origin's Cache-Control / Expires decide) or
	// override (TTL decides).
	Mode string `yaml:"mode"`
	// StaleWhileRevalidate: how long after expiry an entry is served while
	// one background refresh runs. The origin's directive wins when larger.
	StaleWhileRevalidate Duration `yaml:"stale_while_revalidate"`
	// StaleIfError: how long after expiry an entry is served when the origin
	// fails. The origin's directive wins when larger.
	StaleIfError Duration `yaml:"stale_if_error"`
	// StaleIfUnreachable: how long after expiry an entry is served when the
	// origin cannot be reached at all (connection refused or reset, closed
	// before it answered, timed out), without any stale-if-error (RFC 9111
	// §4.2.4 allows a disconnected cache to serve stale). Never for a
	// response whose must-revalidate, proxy-revalidate, no-cache or s-maxage
	// forbids serving it stale. 0 disables it.
	StaleIfUnreachable Duration `yaml:"stale_if_unreachable"`
	// Tags are added to every entry the route stores (purge scopes).
	Tags []string `yaml:"tags"`
	// KeyOptions (YAML "key") says which parts of the request make the
	// cache key. The field is not called Key because Route.Key is the
	// method that builds a request's key.
	KeyOptions KeyOptions `yaml:"key"`
	// Bypass passes every request to the origin, uncached.
	Bypass bool `yaml:"bypass"`
	// Backend names the backend (backends) the route's requests go to;
	// empty, the top-level origin.
	Backend string `yaml:"backend"`
	// SetCookie says what happens to a response with Set-Cookie:
	// SetCookiePass (not stored), SetCookieStrip (stored without its
	// Set-Cookie; the client that caused the fill still gets it) or
	// SetCookieStore (stored with it, so every client gets the cookie:
	// dangerous, only for cookies that are the same for everyone).
	SetCookie string `yaml:"set_cookie"`
	// EarlyRefreshBeta is the beta of XFetch probabilistic early refresh
	// (Vattani, Chierichetti, Lowenstein, "Optimal Probabilistic Cache
	// Stampede Prevention", 2015): larger refreshes earlier, 0 disables it.
	// 0 to 10; unset, cache.early_refresh_beta.
	EarlyRefreshBeta float64 `yaml:"early_refresh_beta"`
	// TTLJitter is the largest fraction by which a TTL (mode override or
	// heuristic) is randomly shortened, to spread expiries. 0 to 0.5.
	TTLJitter float64 `yaml:"ttl_jitter"`
	// Request says which client request fields reach the origin.
	Request RequestOptions `yaml:"request"`
	// DeceptionCheck, on a route whose path glob ends in a file extension
	// ("/static/**.css"), stores a response only when its Content-Type fits
	// the extension (cache-deception armour). Unset is true.
	DeceptionCheck *bool `yaml:"deception_check"`
	// RequestDirectives says what a client's no-cache, max-age=0, no-store
	// and Pragma: no-cache do: RequestDirectivesIgnore (nothing: the cache
	// answers as for any request, protecting the origin, as Varnish and
	// nginx do) or RequestDirectivesHonour (RFC 9111 §5.2.1: the stored
	// response is revalidated, concurrent revalidations of one key collapsed
	// into one conditional request; no-store is not stored).
	RequestDirectives string `yaml:"request_directives"`
	// Response shapes the origin's responses before they are stored and
	// delivered.
	Response ResponseOptions `yaml:"response"`
	// Invalidate names what a successful (2xx or 3xx) unsafe request on
	// the route purges besides its own URL (RFC 9111 §4.4): the related
	// list pages, tags, prefixes and patterns (invalidate.go).
	Invalidate []InvalidateRule `yaml:"invalidate"`
}

// Match selects requests. Empty fields match anything.
type Match struct {
	// Host is an exact host ("example.com") or a wildcard for one or more
	// leading labels ("*.example.com"). Compared case-insensitively,
	// without port.
	Host string `yaml:"host"`
	// Path is a prefix ("/static/") unless it contains *, ? or [, then a
	// glob where * does not cross "/" and ** does ("/img/**.png"). A
	// whole segment "{name}" also makes it a glob: it matches one segment
	// and captures it for Invalidate templates ("/posts/{id}").
	Path string `yaml:"path"`
	// Methods are the request methods matched. None matches any.
	Methods []string `yaml:"methods"`
	// Headers, Cookies and Query are conditions on the request's header
	// fields, cookies and query parameters (conditions.go); all must hold.
	// They see the request as the origin would receive it.
	Headers []Condition `yaml:"headers"`
	Cookies []Condition `yaml:"cookies"`
	Query   []Condition `yaml:"query"`
}

// KeyOptions says which parts of a request make its cache key.
type KeyOptions struct {
	// IgnoreQuery lists query parameters dropped from the key; a trailing *
	// matches a prefix.
	IgnoreQuery []string `yaml:"ignore_query"`
	// IgnoreAllQuery drops the whole query string from the key.
	IgnoreAllQuery bool `yaml:"ignore_all_query"`
	// Headers are request headers whose values are part of the key.
	Headers []string `yaml:"headers"`
	// Cookies are cookie names whose values are part of the key.
	Cookies []string `yaml:"cookies"`
	// ForwardIgnoredQuery forwards the parameters dropped from the key
	// (ignore_query, ignore_all_query) to the origin. Unsafe for pages that
	// reflect them: what one client sent is then stored for all. False: the
	// origin receives the keyed query only.
	ForwardIgnoredQuery bool `yaml:"forward_ignored_query"`
}

// RequestOptions says which client request fields reach the origin.
type RequestOptions struct {
	// DropFields are request fields removed from every request of the route
	// before anything reads them.
	DropFields []string `yaml:"drop_fields"`
	// AllowFields, when set, is an allowlist for cacheable requests: only
	// these fields, the protocol's own (ProtocolFields) and the forwarding
	// fields cachegate sets reach the origin. When empty, there is no
	// allowlist.
	AllowFields []string `yaml:"allow_fields"`
	// KeepCookies, when set, drops every cookie of a cacheable request but
	// those named (exactly) before it is keyed and forwarded; [] drops
	// all (static assets). Unset keeps the cookies.
	KeepCookies *[]string `yaml:"keep_cookies"`
	// SetFields are request fields set, to these values, on every request
	// of the route sent to the origin (after drop_fields and allow_fields,
	// which remove fields).
	SetFields map[string]string `yaml:"set_fields"`
}

// ResponseOptions shape the origin's responses of a route, before they
// are stored and delivered.
type ResponseOptions struct {
	// SetFields are response fields set to these values (X-Frame-Options).
	SetFields map[string]string `yaml:"set_fields"`
	// RemoveFields are response fields removed (Server, X-Powered-By).
	RemoveFields []string `yaml:"remove_fields"`
}

// Duration is a time.Duration written as "300ms", "30s", "5m", "2h" or
// "7d" in YAML.
type Duration time.Duration

// ByteSize is a number of bytes written as 1024, "64KiB", "8MiB", "1GiB"
// (or KB, MB, GB as powers of 1000) in YAML.
type ByteSize int64

// Route modes.
const (
	// ModeRespect: the origin's Cache-Control and Expires decide freshness.
	ModeRespect = "respect"
	// ModeOverride: the route's TTL decides freshness.
	ModeOverride = "override"
)

// Route set_cookie values: what happens to a response with Set-Cookie.
const (
	// SetCookiePass: the response is not stored.
	SetCookiePass = "pass"
	// SetCookieStrip: the response is stored without its Set-Cookie; the
	// client whose request filled the entry still gets the cookie.
	SetCookieStrip = "strip"
	// SetCookieStore: the response is stored with its Set-Cookie, which
	// every client served from the entry then gets. Dangerous: only for
	// cookies that are the same for everyone.
	SetCookieStore = "store"
)

// DefaultTargets are the targeted cache-control fields cachegate obeys, most
// specific first (RFC 9213 §2.2): its own field, then CDN-Cache-Control.
var DefaultTargets = []string{"Cachegate-Cache-Control", "CDN-Cache-Control"}

// The values of Route.RequestDirectives.
const (
	RequestDirectivesIgnore = "ignore"
	RequestDirectivesHonour = "honour"
)

// ClientLimits bound what a client may send, and how slowly: on the proxy
// listener (the header limits on the admin listener too). Requests past a
// limit are answered 408, 413 or 431 and counted
// (cachegate_client_errors_total).
type ClientLimits struct {
	// ReadHeaderTimeout bounds reading a request's header.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout" reload:"restart"`
	// BodyIdleTimeout is how long a request body may send nothing before the
	// request is answered 408.
	BodyIdleTimeout Duration `yaml:"body_idle_timeout"`
	// BodyMinRate is the slowest a request body may arrive, in bytes per
	// second, after the first BodyIdleTimeout: a body trickled slower is
	// answered 408, however often it sends a byte.
	BodyMinRate ByteSize `yaml:"body_min_rate"`
	// MaxHeaderBytes bounds a request's header (request line and fields).
	MaxHeaderBytes ByteSize `yaml:"max_header_bytes" reload:"restart"`
	// MaxBodyBytes bounds a request's body.
	MaxBodyBytes ByteSize `yaml:"max_body_bytes"`
}
