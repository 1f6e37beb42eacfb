package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

func TestParseRefusesInvalidNewOptions(t *testing.T) {
	for _, tc := range []struct {
		config string
		want   string
	}{
		{"cache:\n  targeted_fields: [\"Bad Field\"]\n", `cfg.yaml:3: cache.targeted_fields[0]: invalid header name "Bad Field"`},
		{"cache:\n  strip_response_fields: [ok, \"\"]\n", `cfg.yaml:3: cache.strip_response_fields[1]: must be a header field name`},
		{"cache:\n  tag_headers: {surrogate_key: \"a b\"}\n", `cfg.yaml:3: cache.tag_headers.surrogate_key: invalid header name "a b"`},
		{"cache:\n  tag_headers:\n    cache_tag: \"x:y\"\n", `cfg.yaml:4: cache.tag_headers.cache_tag: invalid header name "x:y"`},
		{"cache:\n  forward_tag_headers: maybe\n", `cfg.yaml:3: cache.forward_tag_headers: expected true or false, got "maybe"`},
		{"cache:\n  collapse:\n    wait: 0\n", `cfg.yaml:4: cache.collapse.wait: must be greater than 0`},
		{"cache:\n  collapse:\n    hit_for_pass: 0s\n", `cfg.yaml:4: cache.collapse.hit_for_pass: must be greater than 0`},
		{"cache:\n  early_refresh_beta: 11\n", `cfg.yaml:3: cache.early_refresh_beta: must be 0 to 10, got 11`},
		{"cache:\n  early_refresh_beta: high\n", `cfg.yaml:3: cache.early_refresh_beta: expected a number, got "high"`},
		{"origin_timeouts:\n  connect: 0\n", `cfg.yaml:3: origin_timeouts.connect: must be greater than 0`},
		{"origin_timeouts:\n  response_header: 0\n", `cfg.yaml:3: origin_timeouts.response_header: must be greater than 0`},
		{"origin_timeouts:\n  idle: -1s\n", `cfg.yaml:3: origin_timeouts.idle: invalid duration "-1s"`},
		{"shutdown_timeout: 0\n", `cfg.yaml:2: shutdown_timeout: must be greater than 0`},
		{"cache:\n  max_pattern_purges: -1\n", `cfg.yaml:3: cache.max_pattern_purges: must be greater than 0`},
		{"client_timeouts:\n  write: 0s\n", `cfg.yaml:3: client_timeouts.write: must be greater than 0`},
		{"routes:\n  - name: a\n    match: {path: /a/}\n    set_cookie: keep\n", `cfg.yaml:5: routes[0].set_cookie: must be pass, strip or store, got "keep"`},
		{"routes:\n  - name: a\n    match: {path: /a/}\n    early_refresh_beta: -1\n", `cfg.yaml:5: routes[0].early_refresh_beta: must be 0 to 10, got -1`},
		{"default_route:\n  early_refresh_beta: .nan\n", `cfg.yaml:3: default_route.early_refresh_beta: must be 0 to 10, got NaN`},
		{"default_route:\n  ttl_jitter: 0.6\n", `cfg.yaml:3: default_route.ttl_jitter: must be 0 to 0.5, got 0.6`},
		{"webhooks:\n  - secret: s\n    tags: [t]\n", `cfg.yaml:3: webhooks[0].name: required`},
		{"webhooks:\n  - name: CMS\n    secret: s\n    tags: [t]\n", `cfg.yaml:3: webhooks[0].name: must be made of a-z, 0-9, _ and -, got "CMS"`},
		{"webhooks:\n  - {name: a, secret: s, tags: [t]}\n  - {name: a, secret: s, tags: [t]}\n", `cfg.yaml:4: webhooks[1].name: duplicate webhook name "a" (also webhooks[0])`},
		{"webhooks:\n  - name: a\n    tags: [t]\n", `cfg.yaml:3: webhooks[0].secret: required`},
		{"webhooks:\n  - name: a\n    secret: s\n", `cfg.yaml:3: webhooks[0]: webhook purges nothing (set tags, urls, prefixes or patterns)`},
		{"webhooks:\n  - name: a\n    secret: s\n    signature_header: \"X Sig\"\n    tags: [t]\n", `cfg.yaml:5: webhooks[0].signature_header: invalid header name "X Sig"`},
		{"webhooks:\n  - name: a\n    secret: s\n    timestamp_header: \"(t)\"\n    tags: [t]\n", `cfg.yaml:5: webhooks[0].timestamp_header: invalid header name "(t)"`},
		{"webhooks:\n  - name: a\n    secret: s\n    tolerance: 0\n    tags: [t]\n", `cfg.yaml:5: webhooks[0].tolerance: must be greater than 0`},
		{"webhooks:\n  - name: a\n    secret: s\n    tags:\n      - ok\n      - \"post:{{.entry.id\"\n", `cfg.yaml:7: webhooks[0].tags[1]: invalid template: webhooks[0].tags[1]:1: unclosed action`},
		{"webhooks:\n  - name: a\n    secret: s\n    urls: [\"{{end}}\"]\n", `cfg.yaml:5: webhooks[0].urls[0]: invalid template:`},
		{"webhooks:\n  - name: a\n    secret: s\n    prefixes: [\"{{.a | nofunc}}\"]\n", `cfg.yaml:5: webhooks[0].prefixes[0]: invalid template:`},
		{"warm:\n  urls: [/relative]\n", `cfg.yaml:3: warm.urls[0]: must be an absolute http or https URL, got "/relative"`},
		{"warm:\n  sitemaps: [\"ftp://o/sitemap.xml\"]\n", `cfg.yaml:3: warm.sitemaps[0]: must be an absolute http or https URL`},
		{"warm:\n  concurrency: 0\n", `cfg.yaml:3: warm.concurrency: must be 1 to 64, got 0`},
		{"warm:\n  concurrency: 65\n", `cfg.yaml:3: warm.concurrency: must be 1 to 64, got 65`},
		{"warm:\n  interval: soon\n", `cfg.yaml:3: warm.interval: invalid duration "soon": expected a duration such as 300ms, 30s, 5m, 2h or 7d`},
		{"tls:\n  listen: \":8443\"\n", `cfg.yaml:3: tls.listen: HTTPS needs certificates`},
		{"tls:\n  listen: 8443\n  acme: {domains: [example.com]}\n", `cfg.yaml:3: tls.listen: must be host:port`},
		{"tls:\n  redirect_http: true\n", `cfg.yaml:3: tls.redirect_http: redirecting to HTTPS needs tls.listen`},
		{"tls:\n  certificates:\n    - key_file: k.pem\n", `cfg.yaml:4: tls.certificates[0].cert_file: required`},
		{"tls:\n  certificates:\n    - cert_file: c.pem\n", `cfg.yaml:4: tls.certificates[0].key_file: required`},
		{"tls:\n  certificates:\n    - {cert_file: /nonexistent/c.pem, key_file: /nonexistent/k.pem}\n", `cfg.yaml:4: tls.certificates[0]: cannot load certificate "/nonexistent/c.pem" with key "/nonexistent/k.pem": open /nonexistent/c.pem: no such file or directory`},
		{"tls:\n  acme:\n    ca: \"http://ca.example/directory\"\n", `cfg.yaml:4: tls.acme.ca: must be an absolute https URL, got "http://ca.example/directory"`},
		{"tls:\n  acme:\n    ca_root: /nonexistent/root.pem\n", `cfg.yaml:4: tls.acme.ca_root: open /nonexistent/root.pem: no such file or directory`},
		{"tls:\n  acme:\n    email: \"not an address\"\n", `cfg.yaml:4: tls.acme.email: must be an e-mail address`},
		{"tls:\n  acme:\n    domains: [ok.example.com, \"https://example.com\"]\n", `cfg.yaml:4: tls.acme.domains[1]: must be a host name`},
		{"tls:\n  acme:\n    domains: [\"10.0.0.1\"]\n", `cfg.yaml:4: tls.acme.domains[0]: must be a host name`},
		{"tls:\n  acme:\n    on_demand: true\n", `cfg.yaml:3: tls.acme.ask: required with on_demand`},
		{"tls:\n  acme:\n    ask: localhost/ask\n", `cfg.yaml:4: tls.acme.ask: must be an absolute http or https URL`},
		{"listen: \":9091\"\nadmin:\n  listen: \"127.0.0.1:9091\"\n", `cfg.yaml:4: admin.listen: same port as listen (":9091" and "127.0.0.1:9091"): each listener needs its own host:port`},
		{"listen: \":8080\"\nadmin:\n  listen: \"0.0.0.0:8080\"\n", `cfg.yaml:4: admin.listen: same port as listen`},
		{"listen: \"127.0.0.1:8080\"\nadmin:\n  listen: \"127.0.0.1:8080\"\n", `cfg.yaml:4: admin.listen: same port as listen`},
		{"listen: \":8443\"\ntls:\n  listen: \":8443\"\n  acme: {domains: [example.com]}\n", `cfg.yaml:4: tls.listen: same port as listen`},
		{"admin:\n  listen: \"[::]:8443\"\ntls:\n  listen: \":8443\"\n  acme: {domains: [example.com]}\n", `cfg.yaml:5: tls.listen: same port as admin.listen`},
		{"default_route:\n  bypass: \"true\"\n", `cfg.yaml:3: default_route.bypass: expected true or false, got "true" (a quoted value is a string: write true without quotes)`},
		{"tls:\n  http2: 'False'\n", `cfg.yaml:3: tls.http2: expected true or false, got "False" (a quoted value is a string: write false without quotes)`},
		{"warm:\n  interval: 300\n", `cfg.yaml:3: warm.interval: invalid duration "300": expected a duration such as 300ms, 30s, 5m, 2h or 7d`},
		{"warm:\n  interval: [1s]\n", `cfg.yaml:3: warm.interval: expected a duration such as 300ms, 30s, 5m, 2h or 7d, got a list`},
		{"default_route:\n  name: main\n", `cfg.yaml:3: default_route.name: not allowed: default_route is always named "default"`},
		{"default_route:\n  match: {path: /x/}\n", `cfg.yaml:3: default_route.match: not allowed: default_route takes the requests no route matches`},
		{"tls:\n  acme:\n    domains: [\"*.example.com\"]\n", `cfg.yaml:4: tls.acme.domains[0]: a wildcard needs the DNS-01 challenge, which cachegate cannot solve`},
		{"tls:\n  http2: sometimes\n", `cfg.yaml:3: tls.http2: expected true or false, got "sometimes"`},
		{"access_log:\n  format: clf\n", `cfg.yaml:3: access_log.format: must be json or combined, got "clf"`},
		{"access_log:\n  enabled: yes please\n", `cfg.yaml:3: access_log.enabled: expected true or false`},
		{"access_log:\n  output: /nonexistent/dir/access.log\n", `cfg.yaml:3: access_log.output: the file's directory: stat /nonexistent/dir: no such file or directory`},
	} {
		got := parseErr(t, "origin: http://o\n"+tc.config)
		wantLines(t, got, tc.want)
	}
}

func TestParseRefusesAKeyThatDoesNotMatchItsCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, _, _ := testutil.WriteSelfSigned(t, dir, "a.example.com")
	_, otherKey, _ := testutil.WriteSelfSigned(t, dir, "b.example.com")
	got := parseErr(t, "origin: http://o\ntls:\n  listen: \":8443\"\n  certificates:\n    - cert_file: "+cert+"\n      key_file: "+otherKey+"\n")
	wantLines(t, got, "cfg.yaml:5: tls.certificates[0]: cannot load certificate", "private key does not match public key")
}

func TestParseAcceptsAStaticCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := testutil.WriteSelfSigned(t, dir, "a.example.com")
	cfg := mustParse(t, "origin: http://o\ntls:\n  listen: \":8443\"\n  http2: false\n  certificates:\n    - {cert_file: "+cert+", key_file: "+key+"}\n  acme:\n    ca_root: "+cert+"\n")
	if cfg.TLS.Certificates[0].CertFile != cert || cfg.TLS.HTTP2 == nil || *cfg.TLS.HTTP2 {
		t.Errorf("tls = %+v, want the certificate kept and http2 false", cfg.TLS)
	}
}

func TestParseKeepsExplicitNewOptions(t *testing.T) {
	cfg := mustParse(t, `origin: http://o
cache:
  targeted_fields: []
  strip_response_fields: [cdn-cache-control]
  tag_headers: {surrogate_key: x-tags}
  early_refresh_beta: 0
origin_timeouts: {connect: 1s}
shutdown_timeout: 2m
routes:
  - name: a
    match: {path: /a/}
    set_cookie: strip
    early_refresh_beta: 2.5
    ttl_jitter: 0
default_route:
  set_cookie: store
warm: {concurrency: 64, interval: 1h}
tls:
  listen: ":8443"
  acme: {domains: [www.example.com, example.com], on_demand: true, ask: "http://127.0.0.1:5555/ask"}
`)
	c := cfg.Cache
	if c.TargetedFields == nil || len(c.TargetedFields) != 0 {
		t.Errorf("explicit [] targeted_fields became %#v, want an empty list (obey none)", c.TargetedFields)
	}
	if !reflect.DeepEqual(c.StripResponseFields, []string{"Cdn-Cache-Control"}) || c.TagHeaders != (TagHeaders{SurrogateKey: "X-Tags", CacheTag: "Cache-Tag"}) {
		t.Errorf("strip_response_fields, tag_headers = %q, %+v, want canonical names and the cache_tag default", c.StripResponseFields, c.TagHeaders)
	}
	if cfg.OriginTimeouts.Connect.D() != time.Second || cfg.OriginTimeouts.Idle.D() != 90*time.Second || cfg.ShutdownTimeout.D() != 2*time.Minute {
		t.Errorf("origin_timeouts, shutdown_timeout = %+v, %v", cfg.OriginTimeouts, cfg.ShutdownTimeout)
	}
	a, dr := cfg.Routes[0], cfg.DefaultRoute
	if a.SetCookie != SetCookieStrip || a.EarlyRefreshBeta != 2.5 || a.TTLJitter != 0 {
		t.Errorf("route a = %q, beta %v, jitter %v, want strip, 2.5, 0", a.SetCookie, a.EarlyRefreshBeta, a.TTLJitter)
	}
	if dr.SetCookie != SetCookieStore || dr.EarlyRefreshBeta != 0 || dr.TTLJitter != 0.1 {
		t.Errorf("default_route = %q, beta %v, jitter %v, want store, 0 from cache.early_refresh_beta, 0.1", dr.SetCookie, dr.EarlyRefreshBeta, dr.TTLJitter)
	}
	if cfg.Warm.Concurrency != 64 || cfg.Warm.Interval.D() != time.Hour {
		t.Errorf("warm = %+v", cfg.Warm)
	}
}

func TestWebhookRenderExpandsTemplatesAgainstThePayload(t *testing.T) {
	cfg := mustParse(t, `origin: http://o
webhooks:
  - name: cms
    secret: s
    tags: ["{{.model}}:{{.entry.id}}", "{{.model}}:list", "{{range .entry.tags}}t:{{.}} {{end}}"]
    urls: ["https://example.com/blog/{{.entry.slug}}"]
    prefixes: ["{{if .entry.draft}}/drafts/{{end}}"]
`)
	w := &cfg.Webhooks[0]
	if w.SignatureHeader != "X-Signature" || w.Tolerance.D() != 5*time.Minute {
		t.Errorf("signature_header, tolerance = %q, %v, want X-Signature, 5m", w.SignatureHeader, w.Tolerance)
	}
	payload := map[string]any{
		"event": "entry.publish",
		"model": "post",
		"entry": map[string]any{"id": 42.0, "slug": "hello", "tags": []any{"a", "b"}, "draft": false},
	}
	tags, urls, prefixes, err := w.Render(payload)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"post:42", "post:list", "t:a", "t:b"}; !reflect.DeepEqual(tags, want) {
		t.Errorf("tags = %q, want %q", tags, want)
	}
	if want := []string{"https://example.com/blog/hello"}; !reflect.DeepEqual(urls, want) {
		t.Errorf("urls = %q, want %q", urls, want)
	}
	if len(prefixes) != 0 {
		t.Errorf("prefixes = %q, want none (an empty result is dropped)", prefixes)
	}
	_, _, _, err = w.Render(map[string]any{"model": "post"})
	if err == nil || !strings.Contains(err.Error(), "webhook cms") || !strings.Contains(err.Error(), "webhooks[0].tags[0]") {
		t.Errorf("Render of a payload without entry: %v, want an error naming the webhook and the template", err)
	}
}

func TestParseRefusesRedisOptionsTheStoreCannotUse(t *testing.T) {
	got := parseErr(t, `origin: http://o
store:
  redis:
    addrs: []
    db: 2
    cluster: true
    pool_size: -1
    dial_timeout: 0
    read_timeout: 0s
    write_timeout: 0
`)
	wantLines(t, got,
		`cfg.yaml:4: store.redis.addrs: required: at least one host:port`,
		`cfg.yaml:5: store.redis.db: Redis Cluster has only db 0, got 2`,
		`cfg.yaml:7: store.redis.pool_size: must not be negative, got -1`,
		`cfg.yaml:8: store.redis.dial_timeout: must be greater than 0`,
		`cfg.yaml:9: store.redis.read_timeout: must be greater than 0`,
		`cfg.yaml:10: store.redis.write_timeout: must be greater than 0`,
	)
	got = parseErr(t, "origin: http://o\nstore:\n  redis:\n    addrs: [a:1, b:2]\n    db: 1\n")
	wantLines(t, got, `cfg.yaml:5: store.redis.db: Redis Cluster has only db 0, got 1`)
	mustParse(t, "origin: http://o\nstore:\n  redis:\n    addrs: [a:1, b:2]\n    master_name: m\n    db: 1\n")
}

func TestAnEmptyValueTakesTheDefault(t *testing.T) {
	t.Setenv("CG_EMPTY", "")
	cfg := mustParse(t, `origin: http://o
listen: ""
log: {level: "${CG_EMPTY}", format: ~}
cache: {name: ""}
routes:
  - name: a
    match: {path: /a/}
    mode: ""
admin:
  listen: ""
`)
	def := Default()
	if cfg.Listen != def.Listen || cfg.Log.Level != def.Log.Level || cfg.Log.Format != def.Log.Format || cfg.Cache.Name != def.Cache.Name {
		t.Errorf("listen, log, cache.name = %q, %+v, %q; want the defaults", cfg.Listen, cfg.Log, cfg.Cache.Name)
	}
	if cfg.Routes[0].Mode != ModeRespect {
		t.Errorf("routes[0].mode \"\" = %q, want the default respect", cfg.Routes[0].Mode)
	}
	if cfg.Admin.Listen != "" {
		t.Errorf("admin.listen \"\" = %q, want \"\": it turns the admin listener off", cfg.Admin.Listen)
	}
}

func TestValidateChecksAConfigBuiltInCode(t *testing.T) {
	cfg := Default()
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "origin: required") {
		t.Errorf("Validate of Default() = %v, want origin required", err)
	}
	cfg.Origin = "http://o"
	cfg.Webhooks = []Webhook{{Name: "a", Secret: "s", Tags: []string{"{{.id}}"}, SignatureHeader: "X-Signature", Tolerance: Duration(time.Minute)}}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate = %v, want nil", err)
	}
	if tags, _, _, err := cfg.Webhooks[0].Render(map[string]any{"id": "x"}); err != nil || len(tags) != 1 || tags[0] != "x" {
		t.Errorf("Render after Validate = %q, %v, want the parsed template's [x]", tags, err)
	}
	cfg.Cache.Collapse.Wait = 0
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), ": cache.collapse.wait: must be greater than 0") {
		t.Errorf("Validate with collapse.wait 0 = %v, want a problem naming it", err)
	}
}

func TestRoutesInAListStartFromARoutesDefaults(t *testing.T) {
	cfg := mustParse(t, "origin: http://o\ncache: {early_refresh_beta: 2}\nroutes:\n  - {name: a, match: {path: /a/}}\n  - {name: b, match: {path: /b/}, early_refresh_beta: 0}\n")
	a, b := cfg.Routes[0], cfg.Routes[1]
	want := defaultRouteOptions()
	if a.Mode != want.Mode || a.TTLJitter != want.TTLJitter || a.StaleIfUnreachable != want.StaleIfUnreachable || !reflect.DeepEqual(a.KeyOptions.IgnoreQuery, want.KeyOptions.IgnoreQuery) {
		t.Errorf("routes[0] = %+v, want a route's defaults", a)
	}
	if a.EarlyRefreshBeta != 2 || b.EarlyRefreshBeta != 0 || cfg.DefaultRoute.EarlyRefreshBeta != 2 {
		t.Errorf("early_refresh_beta = %v, %v, default_route %v; want 2 from cache, 0 written, 2", a.EarlyRefreshBeta, b.EarlyRefreshBeta, cfg.DefaultRoute.EarlyRefreshBeta)
	}
}

func TestLoadResolvesRelativeCertificatePathsAgainstTheConfigDirectory(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := testutil.WriteSelfSigned(t, dir, "a.example.com")
	path := dir + "/cfg.yaml"
	rel := func(p string) string { return strings.TrimPrefix(p, dir+"/") }
	config := "origin: http://o\ntls:\n  listen: \":8443\"\n  certificates:\n    - {cert_file: " + rel(cert) + ", key_file: " + rel(key) + "}\n"
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := cfg.TLS.Certificates[0].CertFile; got != cert {
		t.Errorf("cert_file = %q, want %q (next to the config file)", got, cert)
	}
}

func TestLogAccessIsTheShortFormOfAccessLogEnabled(t *testing.T) {
	cfg := mustParse(t, "origin: http://o\nlog: {access: true}\naccess_log: {format: combined}\n")
	if want := (AccessLogConfig{Enabled: true, Format: "combined", Output: "stdout"}); cfg.AccessLog != want {
		t.Errorf("access_log with log.access: true = %+v, want %+v", cfg.AccessLog, want)
	}
}

func TestAnAccessLogFileIsRelativeToTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(filepath.Join(dir, "cachegate.yaml"), []byte("origin: http://o\naccess_log: {output: logs/access.log}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AccessLog.Output != filepath.Join(dir, "logs", "access.log") {
		t.Errorf("access_log.output = %q, want it under the config file's directory", cfg.AccessLog.Output)
	}
	cfg = mustParse(t, "origin: http://o\naccess_log: {output: stderr}\n")
	if cfg.AccessLog.Output != "stderr" {
		t.Errorf("access_log.output stderr became %q", cfg.AccessLog.Output)
	}
}

func TestAnAccessLogOutputThatIsADirectoryIsAProblemOfTheFile(t *testing.T) {
	dir := t.TempDir()
	_, err := Parse(filepath.Join(dir, "cachegate.yaml"), []byte("origin: http://o\naccess_log: {enabled: true, output: "+dir+"/}\n"))
	if err == nil || !strings.Contains(err.Error(), "access_log.output: ") || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("access_log.output a directory: error %v, want validate to say it is a directory (the start would fail to open it)", err)
	}
}
