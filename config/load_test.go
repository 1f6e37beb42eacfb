package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// parseErr parses config and returns its problems as Error() prints them,
// failing the test when the config is accepted.
func parseErr(t *testing.T, config string) string {
	t.Helper()
	cfg, err := Parse("cfg.yaml", []byte(config))
	if err == nil {
		t.Fatalf("Parse accepted:\n%s\ngot %+v", config, cfg)
	}
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Parse error is %T (%v), want *ConfigError", err, err)
	}
	return err.Error()
}

func mustParse(t *testing.T, config string) *Config {
	t.Helper()
	cfg, err := Parse("cfg.yaml", []byte(config))
	if err != nil {
		t.Fatalf("Parse refused:\n%s\nwith: %v", config, err)
	}
	return cfg
}

func wantLines(t *testing.T, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("error is:\n%s\nwant a line containing %q", got, w)
		}
	}
}

func TestExampleConfigLoads(t *testing.T) {
	t.Setenv("CACHEGATE_ADMIN_TOKEN", "secret")
	cfg, err := Load("../config.example.yaml")
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	if cfg.File != "../config.example.yaml" || cfg.Origin != "http://127.0.0.1:9000" || cfg.Store.Backend != "memory" {
		t.Errorf("File, Origin, Backend = %q, %q, %q", cfg.File, cfg.Origin, cfg.Store.Backend)
	}
	if cfg.Admin.Token != "secret" {
		t.Errorf("admin.token = %q, want the value of $CACHEGATE_ADMIN_TOKEN", cfg.Admin.Token)
	}
	if len(cfg.Routes) < 3 {
		t.Errorf("example has %d routes, want at least 3", len(cfg.Routes))
	}
}

func TestLoadNamesTheMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.yaml")
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Load of a missing file: %v, want an error naming %s", err, path)
	}
}

func TestLoadReportsThePathInProblems(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("origin: http://127.0.0.1:9\nlisten: 8080\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":2: listen: ") {
		t.Errorf("Load: %v, want %q", err, path+":2: listen: ...")
	}
}

// The configuration the end-to-end test of "cachegate validate" uses.
const e2eBad = "origin: http://127.0.0.1:9\nroutes:\n  - name: a\n    match: {path: /a/}\n    tll: 5m\n  - name: b\n    match: {path: /b/}\n    ttl: 5x\n"

func TestParseNamesUnknownOptionWithLine(t *testing.T) {
	got := parseErr(t, e2eBad)
	wantLines(t, got, "cfg.yaml:5: routes[0].tll: unknown option")
	if !strings.Contains(got, `did you mean "ttl"`) {
		t.Errorf("error is:\n%s\nwant a suggestion of ttl", got)
	}
}

func TestParseNamesBadDurationWithLine(t *testing.T) {
	got := parseErr(t, e2eBad)
	wantLines(t, got, `cfg.yaml:8: routes[1].ttl: invalid duration "5x": expected a duration such as 300ms, 30s, 5m, 2h or 7d`)
	got = parseErr(t, "origin: http://o\nroutes:\n  - name: a\n    match: {path: /a/}\n  - name: b\n    match: {path: /b/}\n    ttl: 5 minutes\n")
	wantLines(t, got, `cfg.yaml:7: routes[1].ttl: invalid duration "5 minutes"`)
}

func TestParseNamesRouteWithoutMatch(t *testing.T) {
	got := parseErr(t, "origin: http://o\nroutes:\n  - name: a\n    ttl: 5m\n  - name: b\n    match: {}\n")
	wantLines(t, got,
		"cfg.yaml:3: routes[0].match: route has no match (set host, path, methods, headers, cookies or query)",
		"cfg.yaml:6: routes[1].match: route has no match (set host, path, methods, headers, cookies or query)")
}

func TestParseReportsEveryProblemAtOnce(t *testing.T) {
	config := `listen: 8080
log:
  level: verbose
  format: xml
store:
  backend: disk
  memory: {max_bytes: 0}
  redis:
    addrs: [localhost, "127.0.0.1:6379"]
cache:
  max_object_bytes: lots
routes:
  - name: a
    match: {path: static/, methods: [get, FETCH]}
    mode: maybe
  - name: a
    match: {path: "/x/[a-"}
    key:
      headers: ["Bad Header"]
  - match: {host: "https://example.com"}
  - name: default
    match: {host: example.com}
    bypass: sometimes
`
	got := parseErr(t, config)
	wantLines(t, got,
		`cfg.yaml:1: origin: required`,
		`cfg.yaml:1: listen: must be host:port`,
		`cfg.yaml:3: log.level: must be debug, info, warn or error, got "verbose"`,
		`cfg.yaml:4: log.format: must be text or json, got "xml"`,
		`cfg.yaml:6: store.backend: must be memory, redis or tiered, got "disk"`,
		`cfg.yaml:7: store.memory.max_bytes: must be greater than 0`,
		`cfg.yaml:9: store.redis.addrs[0]: must be host:port`,
		`cfg.yaml:11: cache.max_object_bytes: invalid size "lots"`,
		`cfg.yaml:14: routes[0].match.path: must start with "/", got "static/"`,
		`cfg.yaml:14: routes[0].match.methods[0]: methods are upper-case: write "GET"`,
		`cfg.yaml:14: routes[0].match.methods[1]: unknown method "FETCH"`,
		`cfg.yaml:15: routes[0].mode: must be respect or override, got "maybe"`,
		`cfg.yaml:16: routes[1].name: duplicate route name "a" (also routes[0])`,
		`cfg.yaml:17: routes[1].match.path: invalid pattern "/x/[a-"`,
		`cfg.yaml:19: routes[1].key.headers[0]: invalid header name "Bad Header"`,
		`cfg.yaml:20: routes[2].name: required`,
		`cfg.yaml:20: routes[2].match.host: must be a host name`,
		`cfg.yaml:21: routes[3].name: the name "default" is reserved`,
		`cfg.yaml:23: routes[3].bypass: expected true or false, got "sometimes"`,
	)
	var ce *ConfigError
	_, err := Parse("cfg.yaml", []byte(config))
	if errors.As(err, &ce) {
		for i := 1; i < len(ce.Problems); i++ {
			if ce.Problems[i].Line < ce.Problems[i-1].Line {
				t.Errorf("problems out of line order:\n%s", err)
				break
			}
		}
	}
}

func TestParseRefusesAnOriginThatIsNotAnAbsoluteHTTPURL(t *testing.T) {
	for _, origin := range []string{"127.0.0.1:9000", "ftp://example.com", "/relative", "http://", "http://o/?q=1"} {
		got := parseErr(t, "origin: "+origin+"\n")
		wantLines(t, got, "cfg.yaml:1: origin: must")
	}
}

func TestParseReportsSyntaxErrorsWithLine(t *testing.T) {
	got := parseErr(t, "origin: http://o\nlisten: :1\n\tbad: tab\n")
	if !regexp.MustCompile(`^cfg\.yaml:[23]: [^\n]+$`).MatchString(got) {
		t.Errorf("error is %q, want one problem on line 2 or 3 (as yaml.v3 counts)", got)
	}
}

func TestParseReportsTypeMismatches(t *testing.T) {
	got := parseErr(t, "origin: [a]\nadmin: 5\nroutes:\n  name: a\nstore:\n  redis:\n    db: two\n    addrs: 127.0.0.1:6379\n")
	wantLines(t, got,
		"cfg.yaml:1: origin: expected a string, got a list",
		`cfg.yaml:2: admin: expected a mapping of options, got "5"`,
		"cfg.yaml:4: routes: expected a list, got a mapping",
		`cfg.yaml:7: store.redis.db: expected an integer, got "two"`,
		`cfg.yaml:8: store.redis.addrs: expected a list, got "127.0.0.1:6379"`,
	)
}

func TestParseRefusesAnOptionSetTwice(t *testing.T) {
	got := parseErr(t, "origin: http://o\nlisten: :1\nlisten: :2\n")
	wantLines(t, got, "cfg.yaml:3: listen: set twice (first on line 2)")
}

func TestParseRefusesSeveralDocuments(t *testing.T) {
	got := parseErr(t, "origin: http://o\n---\norigin: http://p\n")
	wantLines(t, got, "only one YAML document")
}

func TestParseExpandsEnvironment(t *testing.T) {
	t.Setenv("CG_ORIGIN", "http://backend:9000")
	t.Setenv("CG_DB", "3")
	t.Setenv("CG_EMPTY", "")
	cfg := mustParse(t, `origin: ${CG_ORIGIN}
admin:
  token: "pre-${CG_UNSET_FOR_TEST:-fallback}-post"
store:
  redis:
    db: ${CG_DB}
    key_prefix: ${CG_EMPTY:-cg}
    password: "$${NOT_A_VAR}"
# a comment may mention ${CG_UNSET_FOR_TEST} freely
`)
	if cfg.Origin != "http://backend:9000" {
		t.Errorf("origin = %q, want the value of $CG_ORIGIN", cfg.Origin)
	}
	if cfg.Admin.Token != "pre-fallback-post" {
		t.Errorf("admin.token = %q, want the default of an unset variable", cfg.Admin.Token)
	}
	if cfg.Store.Redis.DB != 3 {
		t.Errorf("store.redis.db = %d, want 3 from $CG_DB", cfg.Store.Redis.DB)
	}
	if cfg.Store.Redis.KeyPrefix != "cg" {
		t.Errorf("key_prefix = %q, want the default of an empty variable", cfg.Store.Redis.KeyPrefix)
	}
	if cfg.Store.Redis.Password != "${NOT_A_VAR}" {
		t.Errorf("password = %q, want $${ to give a literal ${", cfg.Store.Redis.Password)
	}
}

func TestParseNamesUnsetEnvironmentVariableWithLine(t *testing.T) {
	got := parseErr(t, "origin: http://o\nstore:\n  redis:\n    password: ${CG_UNSET_FOR_TEST}\n    username: ${bad-name}\n")
	wantLines(t, got,
		"cfg.yaml:4: store.redis.password: environment variable CG_UNSET_FOR_TEST is not set",
		`cfg.yaml:5: store.redis.username: invalid environment variable name "bad-name"`)
}

func TestParseFillsDefaults(t *testing.T) {
	cfg := mustParse(t, "origin: http://o\nroutes:\n  - name: a\n    match: {path: /a/}\n")
	targets := []string{"Cachegate-Cache-Control", "CDN-Cache-Control"}
	http2 := true
	want := &Config{
		Listen: ":8080",
		Origin: "http://o",
		Admin:  AdminConfig{Listen: "127.0.0.1:9091"},
		Log:    LogConfig{Level: "info", Format: "text"},
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
			Tiered: TieredConfig{L1WhenRedisDown: Duration(30 * time.Second)},
		},
		Cache: CacheConfig{
			MaxObjectBytes:   8 << 20,
			Name:             "cachegate",
			TargetedFields:   targets,
			TagHeaders:       TagHeaders{SurrogateKey: "Surrogate-Key", CacheTag: "Cache-Tag"},
			Collapse:         CollapseConfig{Wait: Duration(10 * time.Second), HitForPass: Duration(10 * time.Second)},
			EarlyRefreshBeta: 1,
			MaxPatternPurges: 1000,
		},
		Routes: []Route{{
			Name: "a", Match: Match{Path: "/a/"}, Mode: "respect",
			KeyOptions: KeyOptions{IgnoreQuery: []string{"utm_*", "gclid", "fbclid"}},
			SetCookie:  "pass", EarlyRefreshBeta: 1, TTLJitter: 0.1,
			StaleIfUnreachable: Duration(5 * time.Minute),
			RequestDirectives:  "ignore",
		}},
		DefaultRoute: Route{
			Name: "default", Mode: "respect",
			KeyOptions: KeyOptions{IgnoreQuery: []string{"utm_*", "gclid", "fbclid"}},
			SetCookie:  "pass", EarlyRefreshBeta: 1, TTLJitter: 0.1,
			StaleIfUnreachable: Duration(5 * time.Minute),
			RequestDirectives:  "ignore",
		},
		OriginTimeouts: OriginTimeouts{
			Connect:        Duration(5 * time.Second),
			ResponseHeader: Duration(60 * time.Second),
			Idle:           Duration(90 * time.Second),
		},
		ShutdownTimeout: Duration(30 * time.Second),
		ClientTimeouts:  ClientTimeouts{Write: Duration(30 * time.Second)},
		Warm:            Warm{Concurrency: 4},
		AccessLog:       AccessLogConfig{Format: "json", Output: "stdout"},
		TLS: TLSConfig{
			ACME:  ACMEConfig{CA: "https://acme-v02.api.letsencrypt.org/directory"},
			HTTP2: &http2,
		},
		ClientLimits: ClientLimits{
			ReadHeaderTimeout: Duration(10 * time.Second),
			BodyIdleTimeout:   Duration(30 * time.Second),
			BodyMinRate:       500,
			MaxHeaderBytes:    64 << 10,
			MaxBodyBytes:      64 << 20,
		},
		GC:      GCConfig{HeapFloor: 16 << 20},
		HitLane: true,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestParseKeepsExplicitValues(t *testing.T) {
	cfg := mustParse(t, `origin: https://o
listen: "127.0.0.1:80"
store:
  backend: tiered
  memory: {max_bytes: 1GiB}
  redis: {addrs: ["r1:6379", "r2:6380"], dial_timeout: 1s, read_timeout: 1d12h}
cache: {max_object_bytes: 64KB, name: edge}
default_route:
  mode: override
  ttl: 10s
  key: {ignore_query: [], headers: [accept-language]}
`)
	if cfg.Store.Memory.MaxBytes != 1<<30 || cfg.Cache.MaxObjectBytes != 64000 || cfg.Cache.Name != "edge" {
		t.Errorf("sizes and name = %v, %v, %q", cfg.Store.Memory.MaxBytes, cfg.Cache.MaxObjectBytes, cfg.Cache.Name)
	}
	if got := cfg.Store.Redis.ReadTimeout.D(); got != 36*time.Hour {
		t.Errorf("read_timeout = %v, want 36h", got)
	}
	dr := cfg.DefaultRoute
	if dr.Name != "default" || dr.Match.Path != "" || dr.Mode != "override" || dr.TTL.D() != 10*time.Second {
		t.Errorf("default_route = %+v, want name default and no match", dr)
	}
	if dr.KeyOptions.IgnoreQuery == nil || len(dr.KeyOptions.IgnoreQuery) != 0 {
		t.Errorf("explicit empty ignore_query became %#v, want an empty list (ignore nothing)", dr.KeyOptions.IgnoreQuery)
	}
	if !reflect.DeepEqual(dr.KeyOptions.Headers, []string{"Accept-Language"}) {
		t.Errorf("key.headers = %q, want canonical names", dr.KeyOptions.Headers)
	}
}

func TestParseEmptyAdminListenDisablesAdmin(t *testing.T) {
	if cfg := mustParse(t, "origin: http://o\nadmin:\n  listen: \"\"\n"); cfg.Admin.Listen != "" {
		t.Errorf(`admin.listen "" became %q, want "" (admin disabled)`, cfg.Admin.Listen)
	}
	if cfg := mustParse(t, "origin: http://o\nadmin:\n  token: t\n"); cfg.Admin.Listen != "127.0.0.1:9091" {
		t.Errorf("absent admin.listen became %q, want the default 127.0.0.1:9091", cfg.Admin.Listen)
	}
}

func TestParseAcceptsAnchorsAndMergeKeys(t *testing.T) {
	cfg := mustParse(t, `origin: http://o
routes:
  - &base
    name: a
    match: {path: /a/}
    ttl: 1m
    mode: override
  - <<: *base
    name: b
    match: {path: /b/}
`)
	b := cfg.Routes[1]
	if b.Name != "b" || b.Match.Path != "/b/" || b.TTL.D() != time.Minute || b.Mode != "override" {
		t.Errorf("merged route = %+v, want name and match of its own, ttl and mode of the anchor", b)
	}
}

func TestConfigErrorFormat(t *testing.T) {
	err := &ConfigError{File: "f.yaml", Problems: []Problem{
		{Line: 5, Option: "routes[0].tll", Message: "unknown option"},
		{Line: 0, Option: "", Message: "empty"},
	}}
	want := "f.yaml:5: routes[0].tll: unknown option\nf.yaml: empty"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(example))
	f.Add(e2eBad)
	f.Add("origin: ${X:-http://o}\nroutes: [{name: a, match: {path: '/a/**.png'}}]\n")
	f.Add("a: &a [*a]\n")
	f.Add("<<: {listen: x}\n")
	f.Add("&a {<<: *a, origin: http://o}\n")
	f.Fuzz(func(t *testing.T, data string) {
		cfg, err := Parse("fuzz.yaml", []byte(data))
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v, want exactly one", cfg, err)
		}
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("Parse error %T %v, want a *ConfigError with problems", err, err)
			}
		}
	})
}

// loadForFile writes config to a file and loads it with LoadFor(options).
func loadForFile(t *testing.T, config string, options ...string) (*Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cfg.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return LoadFor(path, options...)
}

const secretsOfTheServer = `origin: "${CG_TEST_UNSET_ORIGIN}"
admin:
  listen: "127.0.0.1:9191"
  token: "${CG_TEST_ADMIN_TOKEN}"
webhooks:
  - name: cms
    secret: "${CG_TEST_UNSET_SECRET}"
    tags: ["post"]
routes:
  - name: bad
    ttl: forever
`

func TestLoadForIgnoresUnsetVariablesAndProblemsOfOtherOptions(t *testing.T) {
	t.Setenv("CG_TEST_ADMIN_TOKEN", "s3cret")
	cfg, err := loadForFile(t, secretsOfTheServer, "admin.listen", "admin.token")
	if err != nil {
		t.Fatalf("LoadFor(admin.listen, admin.token): %v", err)
	}
	if cfg.Admin.Listen != "127.0.0.1:9191" || cfg.Admin.Token != "s3cret" {
		t.Errorf("admin = %+v, want the file's listen and the token from the environment", cfg.Admin)
	}
}

func TestLoadForNamesAnUnsetVariableOfANeededOptionWithItsLine(t *testing.T) {
	_, err := loadForFile(t, secretsOfTheServer, "admin.listen", "admin.token")
	if err == nil {
		t.Fatal("LoadFor accepted an admin.token whose variable is not set")
	}
	msg := err.Error()
	wantLines(t, msg, "cfg.yaml:4: admin.token: environment variable CG_TEST_ADMIN_TOKEN is not set")
	if strings.Contains(msg, "UNSET_SECRET") || strings.Contains(msg, "forever") || strings.Count(msg, "\n") > 0 {
		t.Errorf("error is:\n%s\nwant only the admin.token problem", msg)
	}
}

func TestLoadForStillReportsSyntaxErrors(t *testing.T) {
	if _, err := loadForFile(t, "admin: [\n", "admin.listen"); err == nil {
		t.Fatal("LoadFor accepted a file that is not YAML")
	}
}

func TestLoadForNoOptionNeedsNothingWhileLoadRefusesEveryUnsetVariable(t *testing.T) {
	t.Setenv("CG_TEST_ADMIN_TOKEN", "s3cret")
	_, err := loadForFile(t, secretsOfTheServer) // no option: nothing is needed
	if err != nil {
		t.Fatalf("LoadFor with no option: %v", err)
	}
	path := filepath.Join(t.TempDir(), "cfg.yaml")
	os.WriteFile(path, []byte(secretsOfTheServer), 0o600)
	_, err = Load(path)
	if err == nil {
		t.Fatal("Load accepted unset variables")
	}
	wantLines(t, err.Error(), "webhooks[0].secret: environment variable CG_TEST_UNSET_SECRET is not set")
}
