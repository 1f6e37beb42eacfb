package proxy

import (
	"net/http"
	"time"

	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/store"
)

// deliver writes a stored entry to the client: its header fields, Age
// (RFC 9111 §5.1), Via (RFC 9110 §7.6.3) and Cache-Status (RFC 9211), then
// a 304 when the client's validators match (RFC 9110 §13.1) or the body.
func (p *Proxy) deliver(w http.ResponseWriter, r *http.Request, x *exchange, e *store.Entry, age time.Duration) {
	h := w.Header()
	for name, vs := range e.Header {
		// A full slice expression: an Add to this field must not write into
		// the stored entry's array, which other requests share.
		h[name] = vs[:len(vs):len(vs)]
	}
	stripInternalFields(h)
	h.Set("Age", policy.AgeHeader(age))
	h.Add("Via", via(r.Proto, x.st.cfg.Cache.Name))
	h.Set("Cache-Status", x.status.String())
	if policy.NotModified(r, e.Header) {
		notModified(h)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		w.Write(e.Body)
	}
}

// deliverGatewayTimeout answers a request with only-if-cached that the
// cache cannot satisfy (RFC 9111 §5.2.1.7).
func (p *Proxy) deliverGatewayTimeout(w http.ResponseWriter, x *exchange) {
	w.Header().Set("Cache-Status", x.status.String())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusGatewayTimeout)
	w.Write([]byte("Gateway Timeout: not in cache (only-if-cached)\n"))
}
