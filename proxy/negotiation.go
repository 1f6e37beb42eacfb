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

// forwardNegotiation rewrites, in the request to the origin, the fields
// that VaryKey normalizes into the form it keys: every line combined, then
// normalized. The origin then answers the value the variant is stored
// under, so that what it makes of an odd form ("de;q=abc", a range listed
// twice, a second line) is never stored for every client of the variant
// (RFC 9111 §4.1), and its choice fits each of them.
func forwardNegotiation(h http.Header) {
	for _, f := range negotiation {
		if vs, ok := h[f.name]; ok {
			h[f.name] = []string{f.normalize(strings.Join(vs, ","))}
		}
	}
}
