package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/cachegate/cachegate/policy"
)

// Origin errors (the ReverseProxy ErrorHandler hook): a stale entry
// within stale-if-error or stale_if_unreachable, else 502 or 504.

// errServeStale, returned by modifyResponse, makes originError serve the
// stale entry instead of the origin's error response (RFC 5861 §4).
var errServeStale = errors.New("origin error response; serving stale")

// originError answers when the origin could not be reached or did not
// answer in time: the stale entry within stale-if-error (RFC 5861 §4), else
// 502 or 504 with a short body (the ReverseProxy ErrorHandler hook).
func (p *Proxy) originError(w http.ResponseWriter, r *http.Request, err error) {
	f := fillOf(r)
	x := f.x
	switch {
	case errors.Is(err, errAskWhole):
		return // the fill asks again
	case errors.Is(err, errCombined):
		p.deliverCombined(w, f)
		return
	}
	if f.background {
		if !errors.Is(err, errServeStale) {
			p.log.Warn("background refresh failed; the stale entry stays", "key", x.key.String(), "route", x.route.Name, "err", err)
		}
		return
	}
	if b, ok := f.client.Body.(*clientBody); ok && b.failure() != nil {
		// The client's body broke the request (bad framing, too slow, too
		// large), not the origin.
		p.answerClientBodyError(w, x, b.failure())
		return
	}
	if errors.Is(err, context.Canceled) && f.client.Context().Err() != nil {
		return // the client left; nobody to answer
	}
	if !errors.Is(err, errServeStale) {
		x.originTime = p.now().Sub(f.requestTime)
		p.metrics.Origin(x.route.Name, 0, x.originTime)
		p.log.Warn("origin error", "key", x.key.String(), "route", x.route.Name, "err", err)
	}
	if f.stale != nil {
		// errServeStale: the origin answered with a 5xx. Otherwise it was
		// not reached at all (refused, reset, closed, timed out).
		reached := errors.Is(err, errServeStale)
		if reuse := p.reuseAfterError(f, reached); reuse != policy.ErrorReuseNone {
			x.status.Hit = true
			x.status.Fwd = ""
			x.status.Detail = errorReuseDetail[reuse]
			p.deliver(w, f.client, x, f.stale, p.staleAge(f))
			return
		}
	}
	status := http.StatusBadGateway
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		status = http.StatusGatewayTimeout
	}
	x.status.Detail = "origin-error"
	w.Header().Set("Cache-Status", x.status.String())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, http.StatusText(status)+": the origin did not answer\n")
}

// reuseAfterError is what f's stale entry may do now that the origin
// failed to validate it (policy.DecideReuseAfterError): reached is set
// when the origin answered with a 5xx, clear when it was not reached.
func (p *Proxy) reuseAfterError(f *fill, reached bool) policy.ErrorReuse {
	return policy.DecideReuseAfterError(entryFreshness(f.stale), p.staleAge(f), f.x.rd, reached, f.x.route.StaleIfUnreachable.D())
}

// staleAge is the current age of f's stale entry.
func (p *Proxy) staleAge(f *fill) time.Duration {
	return policy.CurrentAge(f.stale.Header, f.stale.RequestTime, f.stale.ResponseTime, p.now())
}

// errorReuseDetail is the Cache-Status detail (RFC 9211 §2.8) of a stale
// entry served because the origin failed.
var errorReuseDetail = [...]string{
	policy.ErrorReuseStaleIfError: "stale-if-error",
	policy.ErrorReuseUnreachable:  "origin-unreachable",
}

// answerClientBodyError answers a request whose body could not be read
// (clientBodyStatus) and closes the connection, whose framing is lost.
func (p *Proxy) answerClientBodyError(w http.ResponseWriter, x *exchange, err error) {
	status, reason := clientBodyStatus(err)
	p.metrics.ClientError(reason)
	p.log.Debug("client request body", "route", x.route.Name, "status", status, "err", err)
	x.status.Detail = "client-body"
	h := w.Header()
	h.Set("Cache-Status", x.status.String())
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Connection", "close")
	w.WriteHeader(status)
	io.WriteString(w, http.StatusText(status)+": the request body could not be read\n")
}
