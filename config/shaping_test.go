package config

import (
	"strings"
	"testing"
)

func TestParseRefusesShapingThatBreaksFramingOrCaching(t *testing.T) {
	got := parseErr(t, `origin: http://o
routes:
  - name: a
    match: {path: /a}
    key: {cookies: [lang]}
    request:
      keep_cookies: [session, "bad name", "x*"]
      drop_fields: [X-Gone]
      set_fields:
        Content-Length: "0"
        X-Forwarded-For: 1.2.3.4
        If-None-Match: "*"
        X-Gone: back
        X-Ok: "a\nInjected: yes"
        Connection: close
    response:
      set_fields: {Cache-Control: "max-age=9999", Transfer-Encoding: chunked, X-Frame-Options: DENY}
      remove_fields: [Vary, Server, Set-Cookie]
`)
	wantLines(t, got,
		`cfg.yaml:7: routes[0].request.keep_cookies[1]: invalid cookie name "bad name"`,
		`cfg.yaml:7: routes[0].request.keep_cookies[2]: invalid cookie name "x*"`,
		`cfg.yaml:5: routes[0].key.cookies[0]: cookie "lang" is keyed but request.keep_cookies drops it`,
		`routes[0].request.set_fields.Content-Length: "Content-Length" frames the message`,
		`routes[0].request.set_fields.X-Forwarded-For: "X-Forwarded-For" is a forwarding field`,
		`routes[0].request.set_fields.If-None-Match: "If-None-Match" governs caching`,
		`routes[0].request.set_fields.X-Gone: "X-Gone" is also in request.drop_fields`,
		`routes[0].request.set_fields.X-Ok: a field value cannot hold control characters`,
		`routes[0].request.set_fields.Connection: "Connection" is hop-by-hop`,
		`routes[0].response.set_fields.Cache-Control: "Cache-Control" governs caching`,
		`routes[0].response.set_fields.Transfer-Encoding: "Transfer-Encoding" is hop-by-hop`,
		`cfg.yaml:18: routes[0].response.remove_fields[0]: "Vary" governs caching`,
		`cfg.yaml:18: routes[0].response.remove_fields[2]: "Set-Cookie" governs caching`,
	)
	for _, accepted := range []string{"set_fields.X-Frame-Options", "remove_fields[1]"} {
		if strings.Contains(got, accepted) {
			t.Errorf("%s was refused:\n%s", accepted, got)
		}
	}
}

func TestParseKeepsShapingOptionsCanonical(t *testing.T) {
	cfg := mustParse(t, `origin: http://o
routes:
  - name: static
    match: {path: /static/}
    request: {keep_cookies: [], set_fields: {x-origin-pool: static}}
    response: {set_fields: {x-frame-options: DENY}, remove_fields: [server, x-powered-by]}
`)
	rt := cfg.Routes[0]
	if rt.Request.KeepCookies == nil || len(*rt.Request.KeepCookies) != 0 {
		t.Errorf("keep_cookies: [] read as %v, want an empty, set list", rt.Request.KeepCookies)
	}
	if rt.Request.SetFields["X-Origin-Pool"] != "static" || rt.Response.SetFields["X-Frame-Options"] != "DENY" ||
		rt.Response.RemoveFields[0] != "Server" || rt.Response.RemoveFields[1] != "X-Powered-By" {
		t.Errorf("shaping options %+v %+v, want canonical names", rt.Request, rt.Response)
	}
	if cfg.DefaultRoute.Request.KeepCookies != nil {
		t.Error("keep_cookies is unset by default (cookies kept)")
	}
}
