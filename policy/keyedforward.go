package policy

import (
	"net/http"
	"slices"
	"strings"
)

// ForwardKeyedFields rewrites, in a cacheable request to the origin, the
// fields rt keys (key.headers, key.cookies) into the form the key read
// them in (keyedFields), so that the origin answers exactly the values the
// response is stored under:
//   - a keyed header sent on several lines, or with spaces around its
//     values, becomes one line of the trimmed values joined by commas;
//   - in the Cookie field a keyed cookie sent twice keeps only the value
//     keyed, its first (frameworks that keep the last one, as Django
//     does, would otherwise store another value's page under the key),
//     unquoted as the key reads it; the other cookies are left as sent.
func (rt *Route) ForwardKeyedFields(h http.Header) {
	for _, name := range rt.KeyOptions.Headers {
		name = http.CanonicalHeaderKey(name)
		vs, ok := h[name]
		if !ok {
			continue
		}
		trimmed := make([]string, len(vs))
		for i, v := range vs {
			trimmed[i] = strings.TrimSpace(v)
		}
		h[name] = []string{strings.Join(trimmed, ",")}
	}
	if len(rt.KeyOptions.Cookies) > 0 && len(h["Cookie"]) > 0 {
		forwardKeyedCookies(h, rt.KeyOptions.Cookies)
	}
}

// forwardKeyedCookies rewrites the Cookie field of h so that each cookie
// named in keyed appears once, with the value the key read (Go's reading:
// its first valid occurrence, unquoted), or not at all when the key read
// none. The other cookies are left as sent, in their order; several
// Cookie lines become one (as HTTP/2 joins them).
func forwardKeyedCookies(h http.Header, keyed []string) {
	r := &http.Request{Header: h}
	var pairs []string
	for _, name := range keyed {
		if c, err := r.Cookie(name); err == nil {
			pairs = append(pairs, name+"="+c.Value)
		}
	}
	var others []string
	for _, line := range h["Cookie"] {
		for pair := range strings.SplitSeq(line, ";") {
			pair = strings.TrimSpace(pair)
			name, _, _ := strings.Cut(pair, "=")
			if pair != "" && !slices.Contains(keyed, strings.TrimSpace(name)) {
				others = append(others, pair)
			}
		}
	}
	delete(h, "Cookie")
	if all := append(others, pairs...); len(all) > 0 {
		h.Set("Cookie", strings.Join(all, "; "))
	}
}
