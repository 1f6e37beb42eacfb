// Package httpfield holds facts about HTTP header fields that both the
// configuration (which refuses options naming them) and the caching rules
// (which apply them to requests) need.
package httpfield

import "strings"

// forwardingPrefixes and forwardingFields are the forwarding family: fields
// by which a proxy tells an origin who the client is, which host, scheme,
// port, path or method it asked for. Frameworks (Rails, Django, Spring,
// Symfony, Laravel, ASP.NET, IIS URL Rewrite) build absolute URLs,
// redirects and asset links from them, or route by them; none is part of
// the cache key, so a client may never set one.
var (
	forwardingPrefixes = []string{"X-Forwarded", "X-Original"}
	forwardingFields   = map[string]bool{
		"Forwarded": true, "X-Host": true, "X-Rewrite-Url": true,
		"X-Http-Method-Override": true, "X-Http-Method": true, "X-Method-Override": true,
		"Front-End-Https": true, "X-Url-Scheme": true, "X-Scheme": true,
		"X-Real-Ip": true, "True-Client-Ip": true, "X-Client-Ip": true, "Client-Ip": true,
		"X-Cluster-Client-Ip": true, "Cf-Connecting-Ip": true, "Fastly-Client-Ip": true,
		"X-Proxyuser-Ip": true, "X-Remote-Ip": true, "X-Remote-Addr": true,
		"X-Arr-Ssl": true, "X-Proxy-Url": true, "X-Override-Url": true,
		"X-Http-Host-Override": true, "Cf-Visitor": true, "X-Envoy-External-Address": true,
	}
)

// IsForwarding reports whether the canonical field name belongs to
// the forwarding family.
func IsForwarding(name string) bool {
	if forwardingFields[name] {
		return true
	}
	for _, p := range forwardingPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// HopByHop are the hop-by-hop request fields (RFC 9110 §7.6.1), meant for
// the connection to cachegate, never for the origin, in canonical form.
var HopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// IsHopByHop reports whether the canonical field name is hop-by-hop.
func IsHopByHop(name string) bool {
	for _, h := range HopByHop {
		if h == name {
			return true
		}
	}
	return false
}
