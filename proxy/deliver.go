package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/store"
)

// deliver writes a stored entry to the client: its header fields, Age
// (RFC 9111 §5.1), Via (RFC 9110 §7.6.3) and Cache-Status (RFC 9211), then
// a 304 when the client's validators match (RFC 9110 §13.1), the ranges a
// Range request asks of a stored 200 (RFC 9110 §14.2), or the body.
func (p *Proxy) deliver(w http.ResponseWriter, r *http.Request, x *exchange, e *store.Entry, age time.Duration) {
	h := w.Header()
	for name, vs := range e.Header {
		// A full slice expression: an Add to this field must not write into
		// the stored entry's array, which other requests share.
		h[name] = vs[:len(vs):len(vs)]
	}
	x.st.stripInternalFields(h)
	// Age, Cache-Status and Via share one backing array, the exchange's
	// unless the origin's Via has several values.
	via := e.Header["Via"]
	vals := x.hitFields[:]
	if n := 3 + len(via); n <= len(vals) {
		vals = vals[:n]
	} else {
		vals = make([]string, n)
	}
	vals[0], vals[1] = policy.AgeHeader(age), x.status.String()
	copy(vals[2:], via)
	vals[len(vals)-1] = x.st.via(r.Proto)
	h["Age"], h["Cache-Status"], h["Via"] = vals[0:1:1], vals[1:2:2], vals[2:len(vals):len(vals)]
	if policy.NotModified(r, e.Status, e.Header) {
		notModified(h)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if e.Status == http.StatusOK && r.Header.Get("Range") != "" {
		p.deliverRange(w, r, e)
		return
	}
	if e.Status == http.StatusPartialContent {
		p.deliverPart(w, r, e)
		return
	}
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		p.writeBody(w, r, e.Body)
	}
}

// deliverRange answers a Range request from a stored full response with
// http.ServeContent, which implements byte ranges, multipart ranges,
// If-Range and 416 (RFC 9110 §13.1.5, §14, §15.3.7).
func (p *Proxy) deliverRange(w http.ResponseWriter, r *http.Request, e *store.Entry) {
	h := w.Header()
	// ServeContent sets the length of what it sends; with no Content-Type
	// it would sniff one, which the origin did not send.
	delete(h, "Content-Length")
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil
	}
	modified, _ := policy.ParseHTTPDate(e.Header.Get("Last-Modified"))
	http.ServeContent(w, r, "", modified, bytes.NewReader(e.Body))
}

// deliverPart answers a Range request from a stored part (a 206), whose
// ranges lie wholly inside it (lookup checked with policy.PartServes), with
// http.ServeContent over a reader of the whole representation's length
// that holds only the part (RFC 9111 §3.3).
func (p *Proxy) deliverPart(w http.ResponseWriter, r *http.Request, e *store.Entry) {
	held, _ := policy.ParseContentRange(e.Header.Get("Content-Range"))
	h := w.Header()
	delete(h, "Content-Length")
	delete(h, "Content-Range")
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil
	}
	modified, _ := policy.ParseHTTPDate(e.Header.Get("Last-Modified"))
	http.ServeContent(w, r, "", modified, io.NewSectionReader(heldPart{body: e.Body, first: held.First}, 0, held.Size))
}

// heldPart is the bytes of a representation from first on that a stored
// part holds; reading elsewhere fails (policy.PartServes keeps requests
// inside it).
type heldPart struct {
	body  []byte
	first int64
}

// errNotHeld is the error of a read outside a stored part.
var errNotHeld = errors.New("proxy: read outside the stored part")

func (h heldPart) ReadAt(p []byte, off int64) (int, error) {
	i := off - h.first
	if i < 0 || i > int64(len(h.body)) {
		return 0, errNotHeld
	}
	n := copy(p, h.body[i:])
	if n < len(p) {
		return n, errNotHeld
	}
	return n, nil
}

// deliverGatewayTimeout answers a request with only-if-cached that the
// cache cannot satisfy (RFC 9111 §5.2.1.7).
func (p *Proxy) deliverGatewayTimeout(w http.ResponseWriter, x *exchange) {
	shapeOwnAnswer(w, x)
	w.Header().Set("Cache-Status", x.status.String())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusGatewayTimeout)
	w.Write([]byte("Gateway Timeout: not in cache (only-if-cached)\n"))
}
