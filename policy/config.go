package policy

import "time"

// Config is the whole configuration file. Defaults are filled in by Load;
// config.example.yaml documents every option with its default.
type Config struct {
	// Listen is the proxy's HTTP address. Default ":8080".
	Listen string `yaml:"listen"`
	// Origin is the backend's base URL, e.g. "http://127.0.0.1:9000". Required.
	Origin string `yaml:"origin"`
	// Admin is the admin listener (purge, metrics, health).
	Admin AdminConfig `yaml:"admin"`
	// Log configures log/slog.
	Log LogConfig `yaml:"log"`
	// Store says where entries live.
	Store StoreConfig `yaml:"store"`
	// Cache holds cache-wide limits and names.
	Cache CacheConfig `yaml:"cache"`
	// Routes are tried in order; the first that matches a request applies.
	Routes []Route `yaml:"routes"`
	// DefaultRoute applies when no route matches. Its Match is ignored and
	// its Name is always "default".
	DefaultRoute Route `yaml:"default_route"`

	// File is the path the config was loaded from (not a YAML option).
	File string `yaml:"-"`
}

// AdminConfig is the admin listener.
type AdminConfig struct {
	// Listen is the admin address. Default "127.0.0.1:9091"; "" disables it.
	Listen string `yaml:"listen"`
	// Token is the bearer token the admin API requires. Default "" (the
	// admin API then refuses every purge).
	Token string `yaml:"token"`
}

// LogConfig configures logging.
type LogConfig struct {
	// Level is debug, info, warn or error. Default "info".
	Level string `yaml:"level"`
	// Format is text or json. Default "text".
	Format string `yaml:"format"`
	// Access logs one line per request at info. Default false.
	Access bool `yaml:"access"`
}

// StoreConfig says where entries live.
type StoreConfig struct {
	// Backend is memory, redis or tiered (memory L1 over redis). Default "memory".
	Backend string `yaml:"backend"`
	// Memory configures the in-process store (and the L1 of tiered).
	Memory MemoryConfig `yaml:"memory"`
	// Redis configures the Redis store (backend redis or tiered).
	Redis RedisConfig `yaml:"redis"`
}

// MemoryConfig configures the in-process store.
type MemoryConfig struct {
	// MaxBytes bounds the bytes the store holds. Default 256MiB.
	MaxBytes ByteSize `yaml:"max_bytes"`
}

// RedisConfig configures the Redis store: one node, Sentinel or Cluster.
type RedisConfig struct {
	// Addrs are host:port pairs. One address is a single node (or, with
	// Cluster true, a cluster seed); several are cluster seeds, or Sentinels
	// when MasterName is set. Default ["127.0.0.1:6379"].
	Addrs []string `yaml:"addrs"`
	// Cluster forces cluster mode with a single seed address. Default false.
	Cluster bool `yaml:"cluster"`
	// MasterName selects Sentinel mode. Default "".
	MasterName string `yaml:"master_name"`
	// Username and Password authenticate (ACL). Default "".
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// DB is the database number (single node and Sentinel only). Default 0.
	DB int `yaml:"db"`
	// KeyPrefix starts every key. Default "cachegate".
	KeyPrefix string `yaml:"key_prefix"`
	// TLS enables TLS to Redis.
	TLS RedisTLSConfig `yaml:"tls"`
	// DialTimeout bounds a connect. Default (when unset or 0) 500ms.
	DialTimeout Duration `yaml:"dial_timeout"`
	// ReadTimeout and WriteTimeout bound one command. Default (when unset
	// or 0) 200ms each.
	ReadTimeout  Duration `yaml:"read_timeout"`
	WriteTimeout Duration `yaml:"write_timeout"`
	// PoolSize is the connections per node. Default 0: go-redis's own
	// default, 10 per CPU.
	PoolSize int `yaml:"pool_size"`
}

// RedisTLSConfig is TLS to Redis.
type RedisTLSConfig struct {
	// Enabled turns TLS on. Default false.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle to trust instead of the system roots.
	CAFile string `yaml:"ca_file"`
	// ServerName overrides the name verified in the server's certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify disables verification (tests only). Default false.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// CacheConfig holds cache-wide limits and names.
type CacheConfig struct {
	// MaxObjectBytes: larger responses stream through and are not stored.
	// Default 8MiB.
	MaxObjectBytes ByteSize `yaml:"max_object_bytes"`
	// Name is this cache's name in Cache-Status (RFC 9211). Default "cachegate".
	Name string `yaml:"name"`
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
	// explicit freshness (a heuristic, RFC 9111 §4.2.2). Default 0.
	TTL Duration `yaml:"ttl"`
	// Mode is respect (the origin's Cache-Control / Expires decide) or
	// override (TTL decides). Default "respect".
	Mode string `yaml:"mode"`
	// StaleWhileRevalidate: how long after expiry an entry is served while
	// one background refresh runs. The origin's directive wins when larger.
	// Default 0.
	StaleWhileRevalidate Duration `yaml:"stale_while_revalidate"`
	// StaleIfError: how long after expiry an entry is served when the
	// origin fails. The origin's directive wins when larger. Default 0.
	StaleIfError Duration `yaml:"stale_if_error"`
	// Tags are added to every entry the route stores (purge scopes).
	Tags []string `yaml:"tags"`
	// KeyOptions (YAML "key") says which parts of the request make the
	// cache key. The field is not called Key because Route.Key is the
	// method that builds a request's key.
	KeyOptions KeyOptions `yaml:"key"`
	// Bypass passes every request to the origin, uncached. Default false.
	Bypass bool `yaml:"bypass"`

	// match is Match compiled by Parse, so that matching allocates nothing.
	match matcher
}

// Match selects requests. Empty fields match anything.
type Match struct {
	// Host is an exact host ("example.com") or a wildcard for one or more
	// leading labels ("*.example.com"). Compared case-insensitively,
	// without port.
	Host string `yaml:"host"`
	// Path is a prefix ("/static/") unless it contains *, ? or [, then a
	// glob where * does not cross "/" and ** does ("/img/**.png").
	Path string `yaml:"path"`
	// Methods are the request methods matched. Default: any.
	Methods []string `yaml:"methods"`
}

// KeyOptions says which parts of a request make its cache key.
type KeyOptions struct {
	// IgnoreQuery lists query parameters dropped from the key; a trailing *
	// matches a prefix. Default ["utm_*", "gclid", "fbclid"].
	IgnoreQuery []string `yaml:"ignore_query"`
	// IgnoreAllQuery drops the whole query string from the key. Default false.
	IgnoreAllQuery bool `yaml:"ignore_all_query"`
	// Headers are request headers whose values are part of the key.
	Headers []string `yaml:"headers"`
	// Cookies are cookie names whose values are part of the key.
	Cookies []string `yaml:"cookies"`
}

// Duration is a time.Duration written as "300ms", "30s", "5m", "2h" or
// "7d" in YAML.
type Duration time.Duration

// ByteSize is a number of bytes written as 1024, "64KiB", "8MiB", "1GiB"
// (or KB, MB, GB as powers of 1000) in YAML.
type ByteSize int64
