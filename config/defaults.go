package config

import (
	"time"

	"gopkg.in/yaml.v3"
)

// Default returns a Config with every option at its default: the one
// place defaults are written. Parse decodes the file over it, so an option
// the file leaves out keeps the value here; config.example.yaml shows the
// same values (TestExampleDocumentsTheDefaults). Origin has no default and
// must be set. A route's early_refresh_beta, left unset, is
// cache.early_refresh_beta (Parse fills it in).
func Default() *Config {
	http2 := true
	return &Config{
		Listen: ":8080",
		Admin:  AdminConfig{Listen: "127.0.0.1:9091"},
		Log:    LogConfig{Level: "info", Format: "text"},
		// stdout, as nginx's and Varnish's container images send theirs:
		// the log proper goes to stderr.
		AccessLog: AccessLogConfig{Format: "json", Output: "stdout"},
		Store: StoreConfig{
			Backend: "memory",
			Memory:  MemoryConfig{MaxBytes: 256 << 20},
			Redis: RedisConfig{
				Addrs:        []string{"127.0.0.1:6379"},
				KeyPrefix:    "cachegate",
				DialTimeout:  Duration(500 * time.Millisecond),
				ReadTimeout:  Duration(200 * time.Millisecond),
				WriteTimeout: Duration(200 * time.Millisecond),
			},
			// Long enough to ride out a Redis restart or a failover
			// (seconds), short enough that an instance cut off from a
			// Redis the others still reach serves what they purge for half
			// a minute at most.
			Tiered: TieredConfig{L1WhenRedisDown: Duration(30 * time.Second)},
		},
		Cache: CacheConfig{
			MaxObjectBytes: 8 << 20,
			Name:           "cachegate",
			TargetedFields: append([]string(nil), DefaultTargets...),
			TagHeaders:     TagHeaders{SurrogateKey: "Surrogate-Key", CacheTag: "Cache-Tag"},
			Collapse: CollapseConfig{
				Wait:       Duration(10 * time.Second),
				HitForPass: Duration(10 * time.Second),
			},
			EarlyRefreshBeta: 1,
			MaxPatternPurges: 1000,
		},
		DefaultRoute: defaultRouteOptions(),
		OriginTimeouts: OriginTimeouts{
			Connect:        Duration(5 * time.Second),
			ResponseHeader: Duration(60 * time.Second),
			Idle:           Duration(90 * time.Second),
		},
		ShutdownTimeout: Duration(30 * time.Second),
		ClientTimeouts:  ClientTimeouts{Write: Duration(30 * time.Second)},
		Warm:            Warm{Concurrency: 4},
		TLS: TLSConfig{
			ACME:  ACMEConfig{CA: "https://acme-v02.api.letsencrypt.org/directory"},
			HTTP2: &http2,
		},
		ClientLimits: ClientLimits{
			ReadHeaderTimeout: Duration(10 * time.Second),
			BodyIdleTimeout:   Duration(30 * time.Second),
			BodyMinRate:       500, // Apache mod_reqtimeout's MinRate
			MaxHeaderBytes:    64 << 10,
			MaxBodyBytes:      64 << 20,
		},
		// Collections of a Redis store's 3 MB live heap every 6 MB
		// cost a third of its CPU per 16 KiB hit; 16 MiB saved as much
		// as 32 or 64 MiB (docs/BENCHMARKS.md, "Redis-only hits") and
		// lets the resident set grow by less.
		GC:      GCConfig{HeapFloor: 16 << 20},
		HitLane: true,
	}
}

// defaultRouteName is the name of default_route, reserved for it.
const defaultRouteName = "default"

// defaultRouteOptions is a route with every option at its default: each
// element of routes starts from it, as default_route does.
func defaultRouteOptions() Route {
	return Route{
		Name:             defaultRouteName,
		Mode:             ModeRespect,
		SetCookie:        SetCookiePass,
		EarlyRefreshBeta: 1,
		TTLJitter:        0.1,
		// Long enough to ride out an origin restart or a deploy, short
		// enough that nobody reads a page for long without the origin
		// having confirmed it.
		StaleIfUnreachable: Duration(5 * time.Minute),
		KeyOptions:         KeyOptions{IgnoreQuery: DefaultIgnoreQuery()},
		RequestDirectives:  RequestDirectivesIgnore,
	}
}

// defaultWebhook is a webhook with every option at its default.
func defaultWebhook() Webhook {
	return Webhook{SignatureHeader: "X-Signature", Tolerance: Duration(5 * time.Minute)}
}

// DefaultIgnoreQuery returns the query parameters dropped from cache keys
// when a route does not set key.ignore_query.
func DefaultIgnoreQuery() []string { return []string{"utm_*", "gclid", "fbclid"} }

// UnmarshalYAML decodes a route over the defaults of a route, so that an
// element of routes has them too (yaml.v3 starts a list's elements from
// zero values).
func (rt *Route) UnmarshalYAML(n *yaml.Node) error {
	type options Route // without this method
	o := options(defaultRouteOptions())
	o.Name = ""
	if err := n.Decode(&o); err != nil {
		return err
	}
	*rt = Route(o)
	return nil
}

// UnmarshalYAML decodes a webhook over the defaults of a webhook.
func (w *Webhook) UnmarshalYAML(n *yaml.Node) error {
	type options Webhook // without this method
	o := options(defaultWebhook())
	if err := n.Decode(&o); err != nil {
		return err
	}
	*w = Webhook(o)
	return nil
}

// defaultBackend is a backend with every option at its default; its
// timeouts are origin_timeouts' (completeBackends).
func defaultBackend() Backend {
	return Backend{
		Balance:      BalanceRoundRobin,
		MaxIdleConns: 256,
		// nginx counts max_fails=1 in fail_timeout=10s; three failures
		// keep one reset connection from taking a healthy upstream out.
		// 500 is left out of the statuses: it is usually one page's bug,
		// not a sick server.
		Passive: PassiveHealth{MaxFails: 3, FailTimeout: Duration(10 * time.Second), FailStatuses: []int{502, 503, 504}},
		// Varnish's probe defaults: every 5s, 2s to answer, 3 good of the
		// last 8.
		Probe: Probe{Interval: Duration(5 * time.Second), Timeout: Duration(2 * time.Second), ExpectStatus: 200, Window: 8, Threshold: 3, Initial: ProbeHealthy},
	}
}

// defaultUpstream is an upstream with every option at its default.
func defaultUpstream() Upstream { return Upstream{Weight: 1} }
