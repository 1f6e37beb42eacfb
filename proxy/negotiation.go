package proxy

import (
	"net/http"
	"strings"

	"github.com/cachegate/cachegate/policy"
)

// negotiation are the request fields that select a variant in a
// normalized form (policy.VaryKey), with their normalizers.
var negotiation = []struct {
	name      string
	normalize func(string) string
}{
	{"Accept-Encoding", policy.NormalizeAcceptEncoding},
	{"Accept-Language", policy.NormalizeAcceptLanguage},
}

// forwardAsKeyed rewrites, in a cacheable request to the origin, the
// fields that select a stored response into the form they select it by:
// the fields route rt keys (policy.Route.ForwardKeyedFields), and those
// that VaryKey normalizes, every line combined, then normalized. The
// origin then answers the values the response is stored under, so that
// what it makes of an odd form ("de;q=abc", a value listed twice, a
// second line) is never stored for every client of the key or the
// variant (RFC 9111 §4.1), and its choice fits each of them.
func forwardAsKeyed(h http.Header, rt *policy.Route) {
	rt.ForwardKeyedFields(h)
	for _, f := range negotiation {
		if vs, ok := h[f.name]; ok {
			h[f.name] = []string{f.normalize(strings.Join(vs, ","))}
		}
	}
}
