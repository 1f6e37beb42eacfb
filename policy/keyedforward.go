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
//   - the Cookie field is rebuilt from the cookies as Go reads them (the
//     key's reading): a keyed cookie sent twice keeps only its first value,
//     which is the one keyed (frameworks that keep the last one, as
//     Django does, would otherwise store another value's page under it),
//     quotes around a keyed value are dropped as the key drops them, and
//     pairs Go cannot read are left out.
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

// forwardKeyedCookies rebuilds the Cookie field of h with each cookie
// named in keyed once, at its first value, unquoted.
func forwardKeyedCookies(h http.Header, keyed []string) {
	cookies := (&http.Request{Header: h}).Cookies()
	pairs := make([]string, 0, len(cookies))
	seen := map[string]bool{}
	for _, c := range cookies {
		isKeyed := slices.Contains(keyed, c.Name)
		if isKeyed && seen[c.Name] {
			continue
		}
		seen[c.Name] = true
		v := c.Value
		if c.Quoted && !isKeyed {
			v = `"` + v + `"`
		}
		pairs = append(pairs, c.Name+"="+v)
	}
	delete(h, "Cookie")
	if len(pairs) > 0 {
		h.Set("Cookie", strings.Join(pairs, "; "))
	}
}
