package policy

import (
	"github.com/cachegate/cachegate/internal/httpfield"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// What reaches the origin. The proxy applies these rules to the client's
// request once, before anything reads it, so that the key, the Vary
// selection and the origin all see the same fields: a field the origin
// never receives cannot select a stored response, and a field the origin
// receives is either keyed, varied on, set by cachegate, or absent.

// hopByHop are the hop-by-hop request fields (RFC 9110 §7.6.1), which are
// meant for the connection to cachegate, never for the origin.
var hopByHop = httpfield.HopByHop

// RemoveHopByHop removes from h the hop-by-hop fields and every field
// named in Connection (RFC 9110 §7.6.1), and every field whose name has an
// underscore: CGI-style origins (PHP, WSGI, Rack) read "X_Forwarded_Host"
// as X-Forwarded-Host, so such names would smuggle any field past these
// rules (nginx drops them too, underscores_in_headers off). A protocol
// upgrade keeps "Connection: Upgrade" and Upgrade (RFC 9110 §7.8); it
// passes to the origin uncached. "TE: trailers" is kept as ReverseProxy
// forwards it.
func RemoveHopByHop(h http.Header) {
	upgrade := ""
	if headerHasToken(h["Connection"], "upgrade") {
		upgrade = h.Get("Upgrade")
	}
	trailers := headerHasToken(h["Te"], "trailers")
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopByHop {
		delete(h, name)
	}
	for name := range h {
		if strings.IndexByte(name, '_') >= 0 {
			delete(h, name)
		}
	}
	if upgrade != "" {
		h.Set("Connection", "Upgrade")
		h.Set("Upgrade", upgrade)
	}
	if trailers {
		// The origin may send trailers (as ReverseProxy tells it).
		h.Set("Te", "trailers")
	}
}

// headerHasToken reports whether a comma-separated field has token,
// compared case-insensitively.
func headerHasToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// SetForwarding replaces the forwarding family in the header of r,
// received from peer over scheme, by cachegate's own fields:
// X-Forwarded-For (the peer), X-Forwarded-Host (r's host, normalized) and
// X-Forwarded-Proto (scheme). When peer is one of trusted_proxies, the
// client chain it sent (X-Forwarded-For, the for= and proto= of
// Forwarded) is kept with peer appended, and its X-Forwarded-Proto, when
// http or https, is kept as the request's scheme. It returns the scheme
// the request is keyed and forwarded with.
func (c *Rules) SetForwarding(r *http.Request, peer netip.Addr, scheme string) string {
	h := r.Header
	trusted := c.trusts(peer)
	var chain, forwarded []string
	if trusted {
		chain = h.Values("X-Forwarded-For")
		forwarded = h.Values("Forwarded")
		switch proto := strings.ToLower(strings.TrimSpace(h.Get("X-Forwarded-Proto"))); proto {
		case "http", "https":
			scheme = proto
		}
	}
	for name := range h {
		if httpfield.IsForwarding(name) {
			delete(h, name)
		}
	}
	// One backing array holds the three values (a request's allocations
	// count on the hit path).
	values := make([]string, 3)
	values[0] = NormalizeHost(requestHost(r), scheme)
	values[1] = scheme
	h["X-Forwarded-Host"] = values[0:1:1]
	h["X-Forwarded-Proto"] = values[1:2:2]
	ip := ""
	if peer.IsValid() {
		ip = addrText(peer, r.RemoteAddr)
	}
	switch {
	case len(chain) > 0 && ip != "":
		values[2] = strings.Join(chain, ", ") + ", " + ip
	case len(chain) > 0:
		values[2] = strings.Join(chain, ", ")
	default:
		values[2] = ip
	}
	if values[2] != "" {
		h["X-Forwarded-For"] = values[2:3:3]
	}
	if fw := forwardedChain(forwarded); fw != "" {
		h.Set("Forwarded", fw+", "+forwardedNode(peer))
	}
	return scheme
}

// Trusts reports whether peer is one of trusted_proxies, whose
// forwarding fields and X-Request-Id are believed.
func (c *Rules) Trusts(peer netip.Addr) bool { return c.trusts(peer) }

// ClientAddr is the address of the client a request received from peer
// came from, for the access log: peer itself, unless it is one of
// trusted_proxies; then the rightmost address of forwardedFor (the
// X-Forwarded-For SetForwarding wrote, peer last) that is not a trusted
// proxy, as nginx's real_ip_recursive finds it. A value that is not an
// address ends the walk at the last trusted proxy.
func (c *Rules) ClientAddr(forwardedFor []string, peer netip.Addr) string {
	client := peer.Unmap()
	if c.trusts(client) {
		client = c.firstUntrusted(strings.Join(forwardedFor, ","), peer)
	}
	if !client.IsValid() {
		return ""
	}
	return client.String()
}

// firstUntrusted walks the list of addresses chain from the right while
// they are trusted proxies, and returns the first that is not (or the
// last trusted one).
func (c *Rules) firstUntrusted(chain string, last netip.Addr) netip.Addr {
	for chain != "" {
		elem := chain
		chain = ""
		if i := strings.LastIndexByte(elem, ','); i >= 0 {
			chain, elem = elem[:i], elem[i+1:]
		}
		addr, err := netip.ParseAddr(strings.TrimSpace(elem))
		if err != nil {
			return last
		}
		if last = addr.Unmap(); !c.trusts(last) {
			return last
		}
	}
	return last
}

// addrText is peer's text form, taken from remote (the request's
// RemoteAddr, "ip:port") when remote already holds exactly that form, as
// it does for an IPv4 peer (the only dotted-decimal text ParseAddr accepts
// is the canonical one): every request then does without a copy of its
// peer's address. Any other peer is formatted.
func addrText(peer netip.Addr, remote string) string {
	if peer.Is4() {
		if i := strings.LastIndexByte(remote, ':'); i > 0 {
			if a, err := netip.ParseAddr(remote[:i]); err == nil && a == peer {
				return remote[:i]
			}
		}
	}
	return peer.String()
}

// trusts reports whether peer is one of trusted_proxies.
func (c *Rules) trusts(peer netip.Addr) bool {
	peer = peer.Unmap()
	for _, p := range c.trusted {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

// forwardedChain keeps, of the Forwarded elements a trusted proxy sent
// (RFC 7239 §4), only the for= and proto= pairs: by= names the proxy's own
// interface and host= is not keyed.
func forwardedChain(values []string) string {
	var elems []string
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			var kept []string
			for pair := range strings.SplitSeq(elem, ";") {
				name, _, _ := strings.Cut(strings.TrimSpace(pair), "=")
				if strings.EqualFold(name, "for") || strings.EqualFold(name, "proto") {
					kept = append(kept, strings.TrimSpace(pair))
				}
			}
			if len(kept) > 0 {
				elems = append(elems, strings.Join(kept, ";"))
			}
		}
	}
	return strings.Join(elems, ", ")
}

// forwardedNode is the for= pair of peer (RFC 7239 §6: an IPv6 address is
// quoted and bracketed).
func forwardedNode(peer netip.Addr) string {
	switch {
	case !peer.IsValid():
		return "for=unknown"
	case peer.Unmap().Is4():
		return "for=" + peer.Unmap().String()
	}
	return `for="[` + peer.String() + `]"`
}

// ProtocolFields are the request fields that reach the origin on a
// cacheable request of a route with request.allow_fields even when the list
// does not name them: content negotiation, validators, ranges and request
// directives, which the cache itself understands (RFC 9110 §12, §13, §14;
// RFC 9111 §5.2.1), and the forwarding fields cachegate sets.
var ProtocolFields = []string{
	"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language",
	"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range", "Range",
	"Cache-Control", "Pragma",
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded",
}

// DropRequestFields removes the route's request.drop_fields from h.
func (rt *Route) DropRequestFields(h http.Header) {
	for _, name := range rt.Request.DropFields {
		delete(h, name)
	}
}

// AllowRequestFields applies the route's request.allow_fields to the
// header of a cacheable request: only the listed fields, ProtocolFields and
// key.headers remain, and Cookie, unless listed, keeps only the cookies
// named in key.cookies. Without an allowlist h is left alone.
func (rt *Route) AllowRequestFields(h http.Header) {
	if len(rt.Request.AllowFields) == 0 {
		return
	}
	for name := range h {
		if !rt.allowsField(name) {
			delete(h, name)
		}
	}
	if len(rt.KeyOptions.Cookies) > 0 && !slices.Contains(rt.Request.AllowFields, "Cookie") {
		keepCookies(h, rt.KeyOptions.Cookies)
	}
}

// allowsField reports whether the allowlist lets the canonical name reach
// the origin.
func (rt *Route) allowsField(name string) bool {
	switch {
	case slices.Contains(rt.Request.AllowFields, name), slices.Contains(ProtocolFields, name), slices.Contains(rt.KeyOptions.Headers, name):
		return true
	case rt.Request.SetFields[name] != "":
		return true // set by the route after the allowlist anyway
	case name == "Cookie":
		return len(rt.KeyOptions.Cookies) > 0
	}
	return false
}

// keepCookies reduces the Cookie field of h to the cookies named in names.
func keepCookies(h http.Header, names []string) {
	var kept []string
	for _, c := range (&http.Request{Header: h}).Cookies() {
		if slices.Contains(names, c.Name) {
			kept = append(kept, c.Name+"="+c.Value)
		}
	}
	delete(h, "Cookie")
	if len(kept) > 0 {
		h.Set("Cookie", strings.Join(kept, "; "))
	}
}
