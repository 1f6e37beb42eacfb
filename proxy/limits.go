package proxy

import (
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/cachegate/cachegate/metrics"
)

// admit applies client_limits to a request before anything else is done
// with it: a header larger than max_header_bytes is answered 431 (RFC
// 6585 §5), a body announced larger than max_body_bytes 413 (RFC 9110
// §15.5.14); any other body is read through a clientBody. It returns the
// status it answered, 0 when the request may go on.
//
// The server (listeners.go) reads at most max_header_bytes plus 4 KiB of
// header (net/http's slack) and answers a larger one 431 itself, before
// cachegate sees it: only headers within that slack are counted here.
func (p *Proxy) admit(w http.ResponseWriter, r *http.Request) int {
	limits := p.state.Load().cfg.ClientLimits
	if requestHeaderBytes(r) > int(limits.MaxHeaderBytes) {
		return p.refuse(w, http.StatusRequestHeaderFieldsTooLarge, metrics.ClientHeaderTooLarge, "the request header is larger than the limit")
	}
	if r.ContentLength > int64(limits.MaxBodyBytes) {
		return p.refuse(w, http.StatusRequestEntityTooLarge, metrics.ClientBodyTooLarge, "the request body is larger than the limit")
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &clientBody{
			body:    http.MaxBytesReader(w, r.Body, int64(limits.MaxBodyBytes)),
			control: http.NewResponseController(w),
			idle:    limits.BodyIdleTimeout.D(),
			minRate: float64(limits.BodyMinRate),
			now:     p.now,
		}
	}
	return 0
}

// requestHeaderBytes is about the size of r's header as it came on the
// wire: the request line and every field line.
func requestHeaderBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4 + len("Host: \r\n") + len(r.Host)
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + len(v) + 4
		}
	}
	return n
}

// refuse answers a request that broke a client limit, closes its
// connection (what is left of it cannot be trusted to be read) and counts
// it; it returns status.
func (p *Proxy) refuse(w http.ResponseWriter, status int, reason, msg string) int {
	p.metrics.ClientError(reason)
	w.Header().Set("Connection", "close")
	http.Error(w, msg+" ("+reason+")", status)
	return status
}

// clientBody reads a request body under a deadline that moves with it:
// each read must come within the idle timeout, and after the first idle
// timeout the body must keep up a minimum rate (as Apache's
// mod_reqtimeout MinRate), so that a client sending a byte now and then
// cannot hold the request, and the origin connection it occupies, for
// ever. The first error is kept for originError, which answers it as the
// client's fault (clientBodyStatus), not as an origin error.
type clientBody struct {
	body    io.ReadCloser
	control *http.ResponseController
	idle    time.Duration
	minRate float64 // bytes per second
	now     func() time.Time

	start time.Time
	read  int64
	mu    sync.Mutex
	err   error
}

func (b *clientBody) Read(p []byte) (int, error) {
	now := b.now()
	if b.start.IsZero() {
		b.start = now
	}
	deadline := now.Add(b.idle)
	if b.minRate > 0 {
		credit := time.Duration(float64(b.read) / b.minRate * float64(time.Second))
		if byRate := b.start.Add(b.idle + credit); byRate.Before(deadline) {
			deadline = byRate
		}
	}
	// A connection that cannot take deadlines (HTTP/2 before Go 1.20
	// transports, test recorders) is read without them.
	_ = b.control.SetReadDeadline(deadline)
	n, err := b.body.Read(p)
	b.read += int64(n)
	switch {
	case err == io.EOF:
		// The body is complete: the server's own deadlines apply again (a
		// deadline left behind would end the request while it waits for
		// the origin).
		_ = b.control.SetReadDeadline(time.Time{})
	case err != nil:
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	return n, err
}

func (b *clientBody) Close() error { return b.body.Close() }

// failure is the first error reading the body met, or nil.
func (b *clientBody) failure() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}
