package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Key is a request's normalized cache key.
type Key struct {
	// Primary is the readable normalized key, e.g.
	// "https://example.com/a?b=1&c=2\nAccept-Language:de"; it is kept in an
	// entry's metadata for inspection.
	Primary string
}

// ID returns the hex SHA-256 of Primary, the form stored keys use.
func (k Key) ID() string {
	sum := sha256.Sum256([]byte(k.Primary))
	return hex.EncodeToString(sum[:])
}

// String returns Primary.
func (k Key) String() string { return k.Primary }

// Key builds r's cache key under rt, for a request received over scheme
// ("http" or "https"). It is made of, in order:
//   - scheme and host, lower-cased, the scheme's default port dropped;
//   - the path, percent-encoding normalized (RFC 3986 §6.2.2.1, §6.2.2.2:
//     hex digits upper-case, unreserved characters decoded) and dot
//     segments resolved (§5.2.4), "/" when empty;
//   - the query, its parameters sorted by name then value, those in
//     key.ignore_query dropped (all of them with key.ignore_all_query),
//     and no "?" when none is left;
//   - one line "\nName:v1,v2" per key.headers entry, values trimmed;
//   - one line "\ncookie:name=value" per key.cookies entry.
//
// Nothing else of the request enters the key: an unkeyed header such as
// X-Forwarded-Host can never select or poison a stored response.
func (rt *Route) Key(r *http.Request, scheme string) Key {
	var b strings.Builder
	path, rawQuery := "/", ""
	if r.URL != nil {
		path, rawQuery = r.URL.EscapedPath(), r.URL.RawQuery
	}
	host := requestHost(r)
	b.Grow(len(scheme) + 3 + len(host) + len(path) + len(rawQuery) + 2 + 32*len(rt.KeyOptions.Headers))
	writeLower(&b, scheme)
	b.WriteString("://")
	writeHost(&b, host, strings.ToLower(scheme))
	b.WriteString(normalizePath(path))
	if !rt.KeyOptions.IgnoreAllQuery {
		if q := normalizeQuery(rawQuery, rt.KeyOptions.IgnoreQuery); q != "" {
			b.WriteByte('?')
			b.WriteString(q)
		}
	}
	for _, name := range rt.KeyOptions.Headers {
		name = http.CanonicalHeaderKey(name)
		b.WriteByte('\n')
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range r.Header[name] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.TrimSpace(v))
		}
	}
	for _, name := range rt.KeyOptions.Cookies {
		b.WriteString("\ncookie:")
		b.WriteString(name)
		b.WriteByte('=')
		if c, err := r.Cookie(name); err == nil {
			b.WriteString(c.Value)
		}
	}
	return Key{Primary: b.String()}
}

// KeyForURL returns the key of a GET of the absolute URL rawURL without
// headers or cookies, and the route such a GET matches; the purge API uses
// it to find the entry of a URL.
func (c *Config) KeyForURL(rawURL string) (Key, *Route, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Key{}, nil, fmt.Errorf("key for URL: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "http" && scheme != "https") || u.Host == "" {
		return Key{}, nil, fmt.Errorf("key for URL %q: need an absolute http or https URL", rawURL)
	}
	r := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: http.Header{}}
	rt := c.Route(r)
	return rt.Key(r, scheme), rt, nil
}

func writeLower(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
}

// writeHost writes host lower-cased, without the scheme's default port
// (or an empty port) (RFC 3986 §6.2.3).
func writeHost(b *strings.Builder, host, scheme string) {
	name, port := host, ""
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i >= 0 {
			name, port = host[:i+1], host[i+1:]
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host, ':') == i {
		name, port = host[:i], host[i:]
	}
	writeLower(b, name)
	switch {
	case port == "" || port == ":",
		port == ":80" && scheme == "http",
		port == ":443" && scheme == "https":
		return
	}
	b.WriteString(port)
}

// normalizePath normalizes an escaped path: percent-encoding, then dot
// segments, then a leading "/".
func normalizePath(p string) string {
	p = normalizePercent(p, false)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return removeDotSegments(p)
}

// normalizeQuery returns the raw query with percent-encoding normalized,
// its parameters sorted and those named in ignore dropped; a pattern with
// a trailing * matches a prefix of the name.
func normalizeQuery(raw string, ignore []string) string {
	if raw == "" {
		return ""
	}
	type param struct{ name, value string }
	params := make([]param, 0, strings.Count(raw, "&")+1)
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		part = normalizePercent(part, true)
		name, _, _ := strings.Cut(part, "=")
		if ignored(name, ignore) {
			continue
		}
		params = append(params, param{name, part})
	}
	if len(params) == 0 {
		return ""
	}
	slices.SortStableFunc(params, func(a, b param) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	if len(params) == 1 {
		return params[0].value
	}
	n := len(params) - 1
	for _, p := range params {
		n += len(p.value)
	}
	var b strings.Builder
	b.Grow(n)
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.value)
	}
	return b.String()
}

func ignored(name string, patterns []string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(name, prefix) {
				return true
			}
		} else if name == p {
			return true
		}
	}
	return false
}

// normalizePercent returns s with percent-encoding normalized: escapes of
// unreserved characters decoded, the hex digits of the others upper-case,
// and bytes that may not appear literally (and a "%" that starts no
// escape) encoded. In a query, "?" is left as it is too. s is returned
// unchanged, without allocating, when it is already normal.
func normalizePercent(s string, query bool) string {
	i := 0
	for i < len(s) {
		if s[i] == '%' {
			if !normalEscape(s[i:]) {
				break
			}
			i += 3
			continue
		}
		if !literal(s[i], query) {
			break
		}
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			if unreserved(v) {
				b.WriteByte(v)
			} else {
				writeEscape(&b, v)
			}
			i += 2
		case c != '%' && literal(c, query):
			b.WriteByte(c)
		default:
			writeEscape(&b, c)
		}
	}
	return b.String()
}

// normalEscape reports whether s starts with an escape in normal form:
// upper-case hex digits of a character that is not unreserved.
func normalEscape(s string) bool {
	upperHex := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }
	return len(s) >= 3 && upperHex(s[1]) && upperHex(s[2]) && !unreserved(unhex(s[1])<<4|unhex(s[2]))
}

func writeEscape(b *strings.Builder, c byte) {
	const hexDigits = "0123456789ABCDEF"
	b.WriteByte('%')
	b.WriteByte(hexDigits[c>>4])
	b.WriteByte(hexDigits[c&15])
}

// unreserved reports whether c is an RFC 3986 §2.3 unreserved character.
func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// literal reports whether c may appear unencoded in a path (pchar and "/",
// RFC 3986 §3.3) or, with query, in a query (§3.4); "%" counts as literal
// only as the start of an escape, which callers check.
func literal(c byte, query bool) bool {
	if unreserved(c) || c == '%' {
		return true
	}
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '/':
		return true
	case '?':
		return query
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
