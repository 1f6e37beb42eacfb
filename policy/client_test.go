package policy

import (
	"net/http"
	"testing"
)

func TestClientAddrIsThePeerUnlessATrustedProxyNamesTheClient(t *testing.T) {
	cfg := mustParse(t, "origin: http://o\ntrusted_proxies: [10.0.0.0/8]\n")
	for _, c := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"192.0.2.7:5000", []string{"203.0.113.7"}, "192.0.2.7"},                          // an untrusted peer's word is ignored
		{"10.1.2.3:5000", []string{"203.0.113.7"}, "203.0.113.7"},                         // one trusted proxy
		{"10.1.2.3:5000", []string{"198.51.100.1, 203.0.113.7, 10.9.9.9"}, "203.0.113.7"}, // a chain of trusted proxies; the left is the client's word
		{"10.1.2.3:5000", []string{"203.0.113.7", "10.9.9.9"}, "203.0.113.7"},             // several fields are one list
		{"10.1.2.3:5000", []string{"not-an-address, 10.9.9.9"}, "10.9.9.9"},               // garbage stops at the last trusted hop
		{"10.1.2.3:5000", nil, "10.1.2.3"},                                                // a trusted peer without the field
		{"[::ffff:10.1.2.3]:5000", []string{"203.0.113.7"}, "203.0.113.7"},                // IPv4-mapped
	} {
		r := &http.Request{RemoteAddr: c.peer, Header: http.Header{"X-Forwarded-For": c.xff}}
		if got := cfg.ClientAddr(r.Header["X-Forwarded-For"], PeerAddr(r)); got != c.want {
			t.Errorf("ClientAddr from %s with X-Forwarded-For %q = %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
}
