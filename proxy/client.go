package proxy

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/cachegate/cachegate/metrics"
)

// clientBodyStatus is the status and the client_limits reason that
// answer a request whose body could not be read: 413 when it was larger
// than allowed, 408 when the client took too long (RFC 9110 §15.5.9,
// §15.5.14), else 400 (a malformed body, such as bad chunked framing, RFC
// 9112 §7.1).
func clientBodyStatus(err error) (int, string) {
	var tooLarge *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, metrics.ClientBodyTooLarge
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return http.StatusRequestTimeout, metrics.ClientBodyTimeout
	}
	return http.StatusBadRequest, metrics.ClientBodyMalformed
}

// writeChunk is the most of a response written under one write deadline.
const writeChunk = 32 << 10

// clientWriter cuts a client that stops reading its response: each piece
// of at most writeChunk bytes must be accepted within timeout
// (client_timeouts.write), or the write fails and the connection is
// closed. The deadline is renewed on progress, so a large response to a
// slow but steady client is not cut, and renewed at most every
// timeout/8, so a hit pays for it about once. A fill is never paced by its
// client (originBody), so a cut client costs nobody else anything.
type clientWriter struct {
	http.ResponseWriter
	rc      http.ResponseController
	timeout time.Duration
	// renewed is when the deadline was last set; zero when the writer
	// cannot set one (a ResponseWriter without SetWriteDeadline).
	renewed time.Time
	now     func() time.Time
	log     *slog.Logger
	cut     bool
	// requestID is the X-Request-Id value the response carries, set
	// just before its header leaves, so that neither the origin's nor a
	// stored response's value is echoed.
	requestID   []string
	wroteHeader bool
}

// init starts bounding the writes to w; start is now.
func (c *clientWriter) init(w http.ResponseWriter, timeout time.Duration, start time.Time, now func() time.Time, log *slog.Logger) {
	c.ResponseWriter, c.rc, c.timeout, c.now, c.log = w, *http.NewResponseController(w), timeout, now, log
	c.renew(start)
}

// renew moves the deadline to timeout from now.
func (c *clientWriter) renew(now time.Time) {
	if c.rc.SetWriteDeadline(now.Add(c.timeout)) == nil {
		c.renewed = now
	}
}

// progress renews the deadline before a write, unless it was renewed a
// moment ago.
func (c *clientWriter) progress() {
	if c.renewed.IsZero() {
		return
	}
	if now := c.now(); now.Sub(c.renewed) > c.timeout/8 {
		c.renew(now)
	}
}

// endGrace is the least time the server gets to write what follows the
// handler (the end of a chunked body, a few bytes that fit in the socket
// buffer unless the client stopped reading): a deadline of timeout could
// pass while the process is merely descheduled.
const endGrace = 5 * time.Second

// end renews the deadline for what the server writes after the handler.
func (c *clientWriter) end() {
	if !c.renewed.IsZero() {
		c.rc.SetWriteDeadline(c.now().Add(max(c.timeout, endGrace)))
	}
}

// WriteHeader renews the deadline: the header may leave at once, without
// a Write (ReverseProxy flushes it from a timer of its own for a streamed
// response), long after the request arrived.
func (c *clientWriter) WriteHeader(status int) {
	c.progress()
	c.writingHeader(status)
	c.ResponseWriter.WriteHeader(status)
}

// writingHeader sets X-Request-Id before the final header is written
// (not before a 1xx, after which the header may still change), and keeps
// net/http from adding a Content-Type the origin did not send: it would
// sniff one from the body (the hit lane, which writes its own responses,
// would not), and the type is the sender's to state (RFC 9110 §8.3).
func (c *clientWriter) writingHeader(status int) {
	if c.wroteHeader || status >= 100 && status < 200 && status != http.StatusSwitchingProtocols {
		return
	}
	c.wroteHeader = true
	h := c.Header()
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil
	}
	if c.requestID != nil {
		h["X-Request-Id"] = c.requestID
	}
}

// FlushError renews the deadline before what is buffered goes out.
func (c *clientWriter) FlushError() error {
	c.progress()
	return c.rc.Flush()
}

func (c *clientWriter) Write(b []byte) (int, error) {
	c.writingHeader(http.StatusOK)
	written := 0
	for len(b) > 0 {
		c.progress()
		n, err := c.ResponseWriter.Write(b[:min(len(b), writeChunk)])
		written += n
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && !c.cut {
				c.cut = true
				c.log.Debug("client stopped reading; its connection is cut", "timeout", c.timeout, "written", written)
			}
			return written, err
		}
		b = b[n:]
	}
	return written, nil
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (c *clientWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
