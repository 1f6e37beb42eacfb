package policy

import (
	"net/http"
	"net/netip"
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
