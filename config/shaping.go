package config

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/cachegate/cachegate/internal/httpfield"
)

// Fields a route may not set or remove (request.set_fields,
// response.set_fields, response.remove_fields).
var (
	// framingFields frame the message: changing them breaks it (RFC 9112
	// §6).
	framingFields = []string{"Content-Length", "Transfer-Encoding", "Content-Encoding", "Content-Range", "Trailer", "Host"}
	// cacheRequestFields are the request fields the cache itself answers
	// (validators, ranges, request directives, cookies: RFC 9110 §13,
	// §14; RFC 9111 §5.2.1; key.cookies and keep_cookies).
	cacheRequestFields = []string{
		"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range", "Range",
		"Cache-Control", "Pragma", "Cookie",
	}
	// cacheResponseFields decide whether and how long a response is stored
	// and whom it is for (RFC 9111 §5; RFC 9110 §8.8, §12.5.5): a route
	// that changed them would store what the origin did not allow.
	cacheResponseFields = []string{
		"Cache-Control", "Expires", "Pragma", "Age", "Date", "Vary", "Etag", "Last-Modified",
		"Set-Cookie", "Cache-Status", "Surrogate-Control", "Content-Type", "Content-Location", "Location",
	}
)

// Why a route may not shape a field the cache governs.
const (
	requestWhy  = "the cache reads the client's own (validators, ranges, directives, cookies)"
	responseWhy = "the origin says it and the cache obeys it; a route that changed it would store what the origin did not allow"
)

// validateShaping checks the route's request.keep_cookies,
// request.set_fields and response options.
func (rt *Route) validateShaping(ch *checker, path string) {
	if keep := rt.Request.KeepCookies; keep != nil {
		for i, name := range *keep {
			ch.check(path+".request.keep_cookies["+strconv.Itoa(i)+"]", func() string {
				if !isToken(name) || strings.Contains(name, "*") {
					return "invalid cookie name " + strconv.Quote(name) + " (names are exact)"
				}
				return ""
			})
		}
		for i, name := range rt.KeyOptions.Cookies {
			ch.check(path+".key.cookies["+strconv.Itoa(i)+"]", func() string {
				if !slices.Contains(*keep, name) {
					return "cookie " + strconv.Quote(name) + " is keyed but request.keep_cookies drops it: add it there"
				}
				return ""
			})
		}
	}
	for _, name := range sortedKeys(rt.Request.SetFields) {
		ch.check(path+".request.set_fields."+name, func() string {
			if msg := shapedFieldProblem(name, cacheRequestFields, requestWhy); msg != "" {
				return msg
			}
			if containsName(rt.Request.DropFields, name) {
				return strconv.Quote(name) + " is also in request.drop_fields"
			}
			return checkFieldValue(rt.Request.SetFields[name])
		})
	}
	for _, name := range sortedKeys(rt.Response.SetFields) {
		ch.check(path+".response.set_fields."+name, func() string {
			if msg := shapedFieldProblem(name, cacheResponseFields, responseWhy); msg != "" {
				return msg
			}
			return checkFieldValue(rt.Response.SetFields[name])
		})
	}
	for i, name := range rt.Response.RemoveFields {
		ch.check(path+".response.remove_fields["+strconv.Itoa(i)+"]", func() string {
			return shapedFieldProblem(name, cacheResponseFields, responseWhy)
		})
	}
}

// shapedFieldProblem says why a route may not set or remove field name,
// or ""; cacheFields are the fields the cache governs on that side.
func shapedFieldProblem(name string, cacheFields []string, why string) string {
	canon := http.CanonicalHeaderKey(name)
	switch {
	case !isToken(name):
		return "invalid header name " + strconv.Quote(name)
	case strings.Contains(name, "_"):
		return strconv.Quote(name) + " has an underscore: cachegate drops such fields (CGI reads _ as -)"
	case httpfield.IsHopByHop(canon):
		return strconv.Quote(name) + " is hop-by-hop (RFC 9110 §7.6.1): it belongs to one connection"
	case slices.Contains(framingFields, canon):
		return strconv.Quote(name) + " frames the message: cachegate and the HTTP library set it"
	case httpfield.IsForwarding(canon):
		return strconv.Quote(name) + " is a forwarding field: cachegate sets it (see trusted_proxies)"
	case slices.Contains(cacheFields, canon):
		return strconv.Quote(name) + " governs caching: " + why
	}
	return ""
}

// checkFieldValue accepts a field value without control characters
// (RFC 9110 §5.5), which would split or smuggle header lines.
func checkFieldValue(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return "a field value cannot hold control characters, got " + strconv.Quote(v)
		}
	}
	return ""
}

// sortedKeys are m's keys in order, so that problems are reported in a
// stable order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// canonicalKeys puts the keys of a field map in canonical form.
func canonicalKeys(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[http.CanonicalHeaderKey(k)] = v
	}
	return out
}
