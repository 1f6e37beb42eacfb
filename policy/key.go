package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Key is a request's normalized cache key: the normalized target (scheme,
// host, path, query) and the keyed request fields. It is built by
// Route.Key and Rules.KeyForURL; no package parses its readable form.
type Key struct {
	// Scheme is "http" or "https".
	Scheme string
	// Host is the host as NormalizeHost gives it (port kept when it is not
	// the scheme's default).
	Host string
	// Path is the escaped path, percent-encoding normalized and dot
	// segments resolved: the path the origin receives.
	Path string
	// Query is the normalized query without "?": parameters sorted, those
	// the route ignores dropped; "" when none is left.
	Query string
	// Fields are the keyed request fields, one line "\nName:v1,v2" per
	// key.headers entry and "\ncookie:name=value" per key.cookies entry.
	Fields string

	// readable is String() when the key was built with it; keys built by
	// KeyOf leave it empty, so that a hit, which needs only ID, does not
	// pay for a string it throws away.
	readable string
}

// String is the readable key, e.g.
// "https://example.com/a?b=1&c=2\nAccept-Language:de": kept in an entry's
// metadata for inspection; only URLOfReadableKey reads it back.
func (k Key) String() string {
	if k.readable == "" {
		return k.build()
	}
	return k.readable
}

func (k Key) build() string {
	return string(k.appendReadable(make([]byte, 0, k.readableLen())))
}

// readableLen is the length of the readable key.
func (k Key) readableLen() int {
	return len(k.Scheme) + 3 + len(k.Host) + len(k.Path) + 1 + len(k.Query) + len(k.Fields)
}

// appendReadable appends the readable key (String) to b.
func (k Key) appendReadable(b []byte) []byte {
	b = append(b, k.Scheme...)
	b = append(b, "://"...)
	b = append(b, k.Host...)
	b = append(b, k.Path...)
	if k.Query != "" {
		b = append(b, '?')
		b = append(b, k.Query...)
	}
	return append(b, k.Fields...)
}

// stackKeyBytes is the readable key length ID and VariantID hash from a
// buffer on the stack; longer keys take one allocation more.
const stackKeyBytes = 512

// ID returns the hex SHA-256 of the readable key, the form stored keys use.
// It hashes the readable form without keeping it (every request computes
// an ID, a hit never needs the readable form).
func (k Key) ID() string {
	var buf [stackKeyBytes]byte
	return hashBytesID(k.appendReadable(buf[:0]))
}

// VariantID is the store key of the variant of k that a request with the
// Vary key varyKey selects (RFC 9111 §4.1).
func (k Key) VariantID(varyKey string) string {
	var buf [stackKeyBytes]byte
	b := append(k.appendReadable(buf[:0]), 0)
	return hashBytesID(append(b, varyKey...))
}

// URLID is the store key of what is recorded about k's URL as a whole,
// whatever its scheme and keyed fields: the URL record that lets an
// unsafe request find the entries of a route keying request fields. It
// never equals an entry's or a variant's store key, whose hashed text
// starts with the scheme.
func (k Key) URLID() string { return hashID("url\x00" + k.URL()) }

func hashID(s string) string {
	var buf [stackKeyBytes]byte
	return hashBytesID(append(buf[:0], s...))
}

// hashBytesID is the hex SHA-256 of b: one allocation, the result.
func hashBytesID(b []byte) string {
	sum := sha256.Sum256(b)
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

// URL is the key's URL without scheme: host, path and query. It is the
// value of the URL purge scope, which covers every variant and both
// schemes of a URL.
func (k Key) URL() string {
	if k.Query == "" {
		return k.Host + k.Path
	}
	return k.Host + k.Path + "?" + k.Query
}

// URLOfReadableKey is the URL (Key.URL) of the readable key String gave:
// without scheme and fields. It serves only entries stored before entries
// kept their URL; policy owns the readable form, so it is read here.
func URLOfReadableKey(readable string) string {
	if i := strings.IndexByte(readable, '\n'); i >= 0 {
		readable = readable[:i]
	}
	if i := strings.Index(readable, "://"); i >= 0 {
		readable = readable[i+3:]
	}
	return readable
}

// PrefixScopes are the values of the path prefix purge scopes that cover
// the key's path and every path below it: on the key's host, or with
// anyHost on every host. Without a trailing slash the path is also a whole
// last segment: "/blog" gives "/blog" (the page itself) and "/blog/"
// (below it), never "/blogger".
func (k Key) PrefixScopes(anyHost bool) []string {
	v := k.Host + k.Path
	if anyHost {
		v = k.Path
	}
	if strings.HasSuffix(v, "/") {
		return []string{v}
	}
	return []string{v, v + "/"}
}

// URLPrefixes yields the values of the prefix purge scopes that cover the
// URL of a key, given in its Key.URL form (an entry keeps that string):
// for each path prefix ending in "/", and for the whole path, the prefix
// alone (a purge on every host) and the host with it (a purge on one
// host). These are the values Key.PrefixScopes and PrefixScopes produce,
// so a purge's values and an entry's meet by string equality. The values
// are substrings of keyURL: a hit's purge check allocates nothing.
func URLPrefixes(keyURL string) iter.Seq2[string, string] {
	return func(yield func(anyHost, oneHost string) bool) {
		hostLen := strings.IndexByte(keyURL, '/')
		if hostLen < 0 {
			return
		}
		path := keyURL[hostLen:]
		end := strings.IndexByte(path, '?')
		if end < 0 {
			end = len(path)
		}
		for i := range end {
			if path[i] == '/' && !yield(path[:i+1], keyURL[:hostLen+i+1]) {
				return
			}
		}
		// The whole path, for a prefix given without a trailing slash.
		if end > 0 && path[end-1] != '/' {
			yield(path[:end], keyURL[:hostLen+end])
		}
	}
}

// PrefixScopes are the values of the path prefix purge scopes of a purge
// by prefix: a path ("/blog/") covers every host, an absolute http or
// https URL ("https://example.com/blog/") one host. The path and the host
// are normalized as a key's are (NewTarget), so a prefix matches the
// entries of every spelling of it; see Key.PrefixScopes for whole
// segments. A query or a fragment is refused: a prefix is a path.
func PrefixScopes(prefix string) ([]string, error) {
	if strings.ContainsAny(prefix, "?#") {
		return nil, errors.New("a prefix is a path, without query or fragment")
	}
	if strings.HasPrefix(prefix, "/") {
		// ParseRequestURI reads "//a/b" as a path, not as host a.
		u, err := url.ParseRequestURI(prefix)
		if err != nil {
			return nil, fmt.Errorf("not a path: %w", err)
		}
		return Key{Path: normalizePath(u.EscapedPath())}.PrefixScopes(true), nil
	}
	u, err := url.Parse(prefix)
	if err != nil || u.Host == "" || (!strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https")) {
		return nil, errors.New("need a path starting with / or an absolute http or https URL")
	}
	return Key{Host: NormalizeHost(u.Host, strings.ToLower(u.Scheme)), Path: normalizePath(u.EscapedPath())}.PrefixScopes(false), nil
}

// Target is a request's normalized target, computed once per request: the
// route, the key and the request forwarded to the origin all use it.
type Target struct {
	// Scheme is the request's scheme, lower-case.
	Scheme string
	// Host is the Host field (or the URL's host) as NormalizeHost gives it.
	Host string
	// Path is the escaped path, percent-encoding normalized (RFC 3986
	// §6.2.2.1, §6.2.2.2: hex digits upper-case, unreserved characters
	// decoded) and then dot segments resolved (§5.2.4), "/" when empty. An
	// encoded dot is decoded first, so "%2e%2e" is a ".." segment and is
	// resolved like one.
	Path string
	// RawQuery is the query as received, without "?".
	RawQuery string
}

// NewTarget normalizes the target of r, received over scheme.
func NewTarget(r *http.Request, scheme string) Target {
	path, rawQuery := "/", ""
	if r.URL != nil {
		path, rawQuery = r.URL.EscapedPath(), r.URL.RawQuery
	}
	scheme = strings.ToLower(scheme)
	return Target{Scheme: scheme, Host: NormalizeHost(requestHost(r), scheme), Path: normalizePath(path), RawQuery: rawQuery}
}

// Ambiguous reports whether the normalized path still hides a dot segment
// that some origins resolve and the key does not: behind an encoded "/"
// ("%2F") or a backslash ("..%2F", "%2F..", "..%5C"), or as a dot segment
// with path parameters ("..;x", "/..;/", which Tomcat and Jetty resolve as
// ".."). Such a request could reach another resource than the one it is
// keyed and routed as; the proxy refuses it with 400.
func (t Target) Ambiguous() bool {
	if strings.Contains(t.Path, "/..;") || strings.Contains(t.Path, "/.;") {
		return true
	}
	if !strings.Contains(t.Path, "%2F") && !strings.Contains(t.Path, "%5C") {
		return false
	}
	decoded, err := url.PathUnescape(t.Path)
	if err != nil {
		return true
	}
	return hasDotSegment(strings.ReplaceAll(decoded, "\\", "/"))
}

// Key builds r's cache key under rt, for a request received over scheme
// ("http" or "https"); see KeyOf.
func (rt *Route) Key(r *http.Request, scheme string) Key {
	return rt.KeyOf(NewTarget(r, scheme), r.Header)
}

// KeyOf builds the cache key of a request for target t with header h. It
// is made of, in order:
//   - scheme and host (NewTarget, NormalizeHost);
//   - the normalized path (NewTarget);
//   - the query, its parameters sorted by name then value, those in
//     key.ignore_query dropped (all of them with key.ignore_all_query),
//     and no "?" when none is left;
//   - one line "\nName:v1,v2" per key.headers entry, values trimmed;
//   - one line "\ncookie:name=value" per key.cookies entry;
//   - on a route with match conditions, first a line "\nroute:name".
//
// Nothing else of the request enters the key: an unkeyed header such as
// X-Forwarded-Host can never select or poison a stored response (the proxy
// makes sure such fields never reach the origin either).
func (rt *Route) KeyOf(t Target, h http.Header) Key {
	k := Key{Scheme: t.Scheme, Host: t.Host, Path: t.Path}
	if !rt.KeyOptions.IgnoreAllQuery {
		k.Query = normalizeQuery(t.RawQuery, rt.KeyOptions.IgnoreQuery)
	}
	if rt.KeysRequestFields() {
		k.Fields = rt.keyedFields(h)
	}
	return k
}

// KeysRequestFields reports whether rt's keys hold request fields
// (key.headers, key.cookies, or the route itself when it has conditions):
// then a URL alone does not name its entries.
func (rt *Route) KeysRequestFields() bool {
	return len(rt.KeyOptions.Headers) > 0 || len(rt.KeyOptions.Cookies) > 0 || rt.Match.HasConditions()
}

// keyedFields writes the route line of a route with conditions, then the
// key.headers and key.cookies lines of h. The route line keeps a
// conditional route's entries apart from every other route's: a request
// that failed its conditions (a logged-in user's, say) is routed
// elsewhere and can neither fill nor hit them, even where both routes
// would key the URL alike.
func (rt *Route) keyedFields(h http.Header) string {
	var b strings.Builder
	b.Grow(32 * (1 + len(rt.KeyOptions.Headers) + len(rt.KeyOptions.Cookies)))
	if rt.Match.HasConditions() {
		b.WriteString("\nroute:")
		b.WriteString(rt.Name)
	}
	for _, name := range rt.KeyOptions.Headers {
		name = http.CanonicalHeaderKey(name)
		b.WriteByte('\n')
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range h[name] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.TrimSpace(v))
		}
	}
	if len(rt.KeyOptions.Cookies) == 0 {
		return b.String()
	}
	r := http.Request{Header: h}
	for _, name := range rt.KeyOptions.Cookies {
		b.WriteString("\ncookie:")
		b.WriteString(name)
		b.WriteByte('=')
		if c, err := r.Cookie(name); err == nil {
			b.WriteString(c.Value)
		}
	}
	return b.String()
}

// ForwardedQuery is the query the origin receives for a cacheable request
// with target t and key k: the keyed query, so that the origin answers
// exactly what is stored under k. With key.forward_ignored_query the
// ignored parameters are forwarded too, normalized and sorted like the
// keyed ones (unsafe for pages that reflect them).
func (rt *Route) ForwardedQuery(t Target, k Key) string {
	if rt.KeyOptions.ForwardIgnoredQuery {
		return normalizeQuery(t.RawQuery, nil)
	}
	return k.Query
}

// KeyForURL returns the key of a GET of the absolute URL rawURL without
// headers or cookies, and the route such a GET matches; the purge API uses
// it to find the entry of a URL.
func (c *Rules) KeyForURL(rawURL string) (Key, *Route, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Key{}, nil, fmt.Errorf("key for URL: %w", err)
	}
	return c.KeyOfGET(u)
}

// KeyOfGET is KeyForURL of a URL already parsed (the target of a PURGE
// request, for one): no string is written to be parsed again.
func (c *Rules) KeyOfGET(u *url.URL) (Key, *Route, error) {
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "http" && scheme != "https") || u.Host == "" {
		return Key{}, nil, fmt.Errorf("key for URL %q: need an absolute http or https URL", u.Redacted())
	}
	r := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: http.Header{}}
	rt := c.Route(r)
	return rt.Key(r, scheme), rt, nil
}

// URLKeysOfGET returns a key for every URL form (Key.URL, the URL purge
// scope) under which a GET of the absolute URL u may be stored: the form
// of the route a GET without headers matches (KeyOfGET's key, first),
// then that of every other route that could store it with other headers
// or cookies (StoringRoutes), once each. Routes key the query apart
// (ignore_query, ignore_all_query), so a purge marking one form only would
// leave the entries another route stored for the same URL.
func (c *Rules) URLKeysOfGET(u *url.URL) ([]Key, error) {
	key, _, err := c.KeyOfGET(u)
	if err != nil {
		return nil, err
	}
	keys := []Key{key}
	r := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: http.Header{}}
	scheme := strings.ToLower(u.Scheme)
	for _, rt := range c.StoringRoutes(r) {
		k := rt.Key(r, scheme)
		if !slices.ContainsFunc(keys, func(seen Key) bool { return seen.URL() == k.URL() }) {
			keys = append(keys, k)
		}
	}
	return keys, nil
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
	// Queries of up to 16 parameters sort on the stack.
	var stack [16]param
	params := stack[:0]
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
