package config

import "testing"

func TestParseRefusesBadForwardingOptions(t *testing.T) {
	got := parseErr(t, `origin: http://o
trusted_proxies: [10.0.0.0/8, not-an-ip, 10.0.0.0/33]
routes:
  - name: r
    match: {path: /r}
    request:
      drop_fields: ["bad name"]
      allow_fields: [X-Ok, X-Forwarded-Host]
`)
	wantLines(t, got,
		`cfg.yaml:2: trusted_proxies[1]: must be a CIDR`,
		`cfg.yaml:2: trusted_proxies[2]: must be a CIDR`,
		`cfg.yaml:7: routes[0].request.drop_fields[0]: invalid header name "bad name"`,
		`cfg.yaml:8: routes[0].request.allow_fields[1]: "X-Forwarded-Host" is a forwarding field`,
	)
}
