package config

import "testing"

func TestParseRefusesBadClientLimitsAndRequestDirectives(t *testing.T) {
	got := parseErr(t, `origin: http://o
client_limits:
  read_header_timeout: 0s
  body_idle_timeout: 0s
  body_min_rate: 0
  max_header_bytes: 0
  max_body_bytes: -1
routes:
  - name: a
    match: {path: /a/}
    request_directives: obey
`)
	wantLines(t, got,
		"cfg.yaml:3: client_limits.read_header_timeout: must be greater than 0",
		"cfg.yaml:4: client_limits.body_idle_timeout: must be greater than 0",
		"cfg.yaml:5: client_limits.body_min_rate: must be greater than 0",
		"cfg.yaml:6: client_limits.max_header_bytes: must be greater than 0",
		`cfg.yaml:7: client_limits.max_body_bytes: invalid size "-1": must not be negative`,
		`cfg.yaml:11: routes[0].request_directives: must be ignore or honour, got "obey"`,
	)
}

func TestParseKeepsClientLimitsAndRequestDirectives(t *testing.T) {
	cfg := mustParse(t, `origin: http://o
client_limits: {body_idle_timeout: 2s, max_header_bytes: 8KiB, max_body_bytes: 1MiB}
default_route: {request_directives: honour}
`)
	l := cfg.ClientLimits
	if l.BodyIdleTimeout.D().Seconds() != 2 || l.MaxHeaderBytes != 8<<10 || l.MaxBodyBytes != 1<<20 || l.BodyMinRate != 500 {
		t.Errorf("client_limits = %+v", l)
	}
	if cfg.DefaultRoute.RequestDirectives != RequestDirectivesHonour {
		t.Errorf("default_route.request_directives = %q, want honour", cfg.DefaultRoute.RequestDirectives)
	}
}
