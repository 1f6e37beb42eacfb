package policy

import (
	"net/http"
	"net/netip"
	"strings"
)

// PeerAddr is the address of r's connection (its RemoteAddr), or the zero
// Addr.
func PeerAddr(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	addr, _ := netip.ParseAddr(r.RemoteAddr)
	return addr.Unmap()
}

// ClientAddr is the address of the client that sent r: its peer, or, when
// the peer is one of trusted_proxies, the nearest address of
// X-Forwarded-For that is not, read from the right (each trusted proxy
// appended the address it was reached from; what lies left of the first
// untrusted one is the client's word). An entry that is not an address
// stops the walk at the last trusted hop, which is then the answer.
func (c *Rules) ClientAddr(r *http.Request) netip.Addr {
	addr := PeerAddr(r)
	if !c.trusts(addr) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return addr
		}
		addr = hop.Unmap()
		if !c.trusts(addr) {
			return addr
		}
	}
	return addr
}
