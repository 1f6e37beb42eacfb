package config

import "testing"

func TestParseRefusesBadConditionsWithLineAndOption(t *testing.T) {
	got := parseErr(t, `origin: http://o
routes:
  - name: a
    bypass: true
    match:
      headers:
        - {name: X-Tenant, regex: "(["}
        - {name: Connection, present: true}
        - {name: X-Forwarded-Host, equals: evil}
        - {name: X_Tenant, present: true}
        - {name: X-Tenant}
        - {name: X-Tenant, present: true, equals: a}
        - {name: "Bad Name", absent: true}
        - {name: Cookie, present: true}
      cookies:
        - {name: "a*b", present: true}
      query:
        - {name: "", present: true}
  - name: b
    match:
      path: /b
      headers: [{name: X-Tenant, prefix: a}]
      cookies: [{name: "session*", present: true}, {name: lang, equals: de}]
      query: [{name: page, equals: "1"}]
    key: {ignore_all_query: true}
  - name: c
    bypass: true
    match: {headers: [{name: X-Drop, present: true}]}
    request: {drop_fields: [X-Drop]}
`)
	wantLines(t, got,
		`cfg.yaml:7: routes[0].match.headers[0].regex: invalid regular expression: error parsing regexp: missing closing ]`,
		`cfg.yaml:8: routes[0].match.headers[1].name: "Connection" is hop-by-hop`,
		`cfg.yaml:9: routes[0].match.headers[2].name: "X-Forwarded-Host" is a forwarding field`,
		`cfg.yaml:10: routes[0].match.headers[3].name: "X_tenant" has an underscore`,
		`cfg.yaml:11: routes[0].match.headers[4]: condition has no test (set present, absent, equals, prefix or regex)`,
		`cfg.yaml:12: routes[0].match.headers[5]: condition has 2 tests`,
		`cfg.yaml:13: routes[0].match.headers[6].name: must be a header field name (no patterns), got "Bad Name"`,
		`cfg.yaml:14: routes[0].match.headers[7].name: test cookies with match.cookies`,
		`cfg.yaml:16: routes[0].match.cookies[0].name: must be a cookie name, with an optional trailing * for a prefix, got "a*b"`,
		`cfg.yaml:18: routes[0].match.query[0].name: must be a query parameter name`,
		`cfg.yaml:22: routes[1].match.headers[0].name: a cached route may test header field "X-Tenant" only with absent: true, or when its key holds it (key.headers)`,
		`cfg.yaml:23: routes[1].match.cookies[0].name: a cached route can test a cookie name pattern only with absent: true`,
		`cfg.yaml:23: routes[1].match.cookies[1].name: a cached route may test cookie "lang" only with absent: true, or when its key holds it (key.cookies)`,
		`cfg.yaml:24: routes[1].match.query[0].name: a cached route may test query parameter "page" only with absent: true, or when its key holds it (not dropped by key.ignore_query or key.ignore_all_query)`,
		`cfg.yaml:28: routes[2].match.headers[0].name: "X-Drop" is in this route's request.drop_fields`,
	)
}

func TestParseAcceptsConditionsThatAreKeyedAbsentOrBypassed(t *testing.T) {
	cfg := mustParse(t, `origin: http://o
routes:
  - name: logged-in
    bypass: true
    match: {cookies: [{name: "wordpress_logged_in_*", present: true}]}
  - name: tenant
    match: {path: /api/, headers: [{name: x-tenant, regex: "^[a-z]+$"}]}
    key: {headers: [X-Tenant]}
  - name: anonymous
    match: {cookies: [{name: "session*", absent: true}, {name: "sid*", present: true, not: true}], query: [{name: page, equals: "2"}]}
`)
	if got := cfg.Routes[1].Match.Headers[0].Name; got != "X-Tenant" {
		t.Errorf("header condition name %q, want it canonical X-Tenant", got)
	}
	if !cfg.Routes[2].Match.HasConditions() || cfg.Routes[2].Match.Cookies[1].AbsentOnly() != true {
		t.Errorf("anonymous route conditions %+v", cfg.Routes[2].Match)
	}
}

func TestARouteMatchingOnlyOnConditionsHasAMatch(t *testing.T) {
	mustParse(t, "origin: http://o\nroutes:\n  - name: a\n    bypass: true\n    match: {query: [{name: preview, present: true}]}\n")
}
