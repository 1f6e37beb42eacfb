package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/proxy/upstream"
)

// Origin errors (the ReverseProxy ErrorHandler hook): a stale entry
// within stale-if-error or stale_if_unreachable, else 502 or 504.

// errServeStale, returned by modifyResponse, makes originError serve the
// stale entry instead of the origin's error response (RFC 5861 §4).
var errServeStale = errors.New("origin error response; serving stale")

// originError is the ReverseProxy ErrorHandler hook: it answers when the
// origin could not be reached or did not answer in time, and when
// modifyResponse returned an error to have it answer (errServeStale,
// errCombined) or the fill ask again (errAskWhole).
func (p *Proxy) originError(w http.ResponseWriter, r *http.Request, err error) {
	f := fillOf(r)
	switch {
	case errors.Is(err, errAskWhole):
		// The fill asks again.
	case errors.Is(err, errCombined):
		p.deliverCombined(w, f)
	case f.background:
		if !errors.Is(err, errServeStale) {
			p.log.Warn("background refresh failed; the stale entry stays", "key", f.x.key.String(), "route", f.x.route.Name, "err", err)
		}
	case clientBodyFailure(f) != nil:
		// The client's body broke the request (bad framing, too slow, too
		// large), not the origin.
		p.answerClientBodyError(w, f.x, clientBodyFailure(f))
	case errors.Is(err, context.Canceled) && f.client.Context().Err() != nil:
		// The client left; nobody to answer.
	default:
		// errServeStale: the origin answered with a 5xx. Otherwise it was
		// not reached at all (refused, reset, closed, timed out).
		reached := errors.Is(err, errServeStale)
		if !reached {
			p.recordUnreached(f, err)
		}
		down := errors.Is(err, upstream.ErrDown)
		switch {
		case p.serveStaleAfterError(w, f, reached, down):
		case down:
			p.answerBackendDown(w, f)
		default:
			p.answerGatewayError(w, f.x, err)
		}
	}
}

// clientBodyFailure is why the client's request body could not be read,
// or nil.
func clientBodyFailure(f *fill) error {
	if b, ok := f.client.Body.(*clientBody); ok {
		return b.failure()
	}
	return nil
}

// recordUnreached records an origin that was not reached in the metrics
// and the log. A request refused because every upstream of its backend
// is down was sent nowhere: it is no origin request (its 503 counts as a
// cachegate error, metricStatus).
func (p *Proxy) recordUnreached(f *fill, err error) {
	x := f.x
	x.upstream = f.upstreamLabel()
	if errors.Is(err, upstream.ErrDown) {
		// Said once, when the upstreams went down (upstream package).
		p.log.Debug("backend down", "key", x.key.String(), "route", x.route.Name)
		return
	}
	x.originTime = p.now().Sub(f.requestTime)
	p.metrics.Origin(x.route.Name, 0, x.originTime)
	p.log.Warn("origin error", "key", x.key.String(), "route", x.route.Name, "err", err)
}

// serveStaleAfterError serves f's stale entry, if it has one that may be
// served now that the origin failed (reuseAfterError), and reports
// whether it did. down says the origin was not asked: every upstream of
// its backend was down.
func (p *Proxy) serveStaleAfterError(w http.ResponseWriter, f *fill, reached, down bool) bool {
	if f.stale == nil {
		return false
	}
	reuse := p.reuseAfterError(f, reached)
	if reuse == policy.ErrorReuseNone {
		return false
	}
	x := f.x
	x.status.Hit = true
	x.status.Fwd = ""
	x.status.Detail = errorReuseDetail[reuse]
	if down {
		x.status.Detail = detailBackendDown
	}
	p.deliver(w, f.client, x, f.stale, p.staleAge(f))
	return true
}

// detailBackendDown is the Cache-Status detail (RFC 9211 §2.8) of a
// response made while every upstream of the route's backend was down:
// the stale entry served, or the 503.
const detailBackendDown = "backend-down"

// answerBackendDown answers 503 to a request whose backend has no
// upstream up, and nothing stale to serve: nothing was sent (RFC 9110
// §15.6.4, the server is unable to handle the request).
func (p *Proxy) answerBackendDown(w http.ResponseWriter, f *fill) {
	x := f.x
	x.status.Detail = detailBackendDown
	shapeOwnAnswer(w, x)
	w.Header().Set("Cache-Status", x.status.String())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, "Service Unavailable: every upstream of backend "+f.pool.Name+" is down\n")
}

// answerGatewayError answers 504 when the origin timed out, else 502,
// with a short body.
func (p *Proxy) answerGatewayError(w http.ResponseWriter, x *exchange, err error) {
	status := http.StatusBadGateway
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		status = http.StatusGatewayTimeout
	}
	x.status.Detail = "origin-error"
	shapeOwnAnswer(w, x)
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

// shapeOwnAnswer applies the route's response shaping to an answer
// cachegate makes itself (an error, a 503, an only-if-cached 504), as to
// the origin's: security fields such as Strict-Transport-Security belong
// on every answer of the route, errors included (what nginx's add_header
// needs "always" for). Call it before setting the answer's own fields;
// config refuses shaping the fields those are (Cache-Status, Content-Type,
// framing, hop-by-hop), so the route cannot remove or change them.
func shapeOwnAnswer(w http.ResponseWriter, x *exchange) {
	x.route.ShapeResponse(w.Header())
}

// answerClientBodyError answers a request whose body could not be read
// (clientBodyStatus) and closes the connection, whose framing is lost.
func (p *Proxy) answerClientBodyError(w http.ResponseWriter, x *exchange, err error) {
	status, reason := clientBodyStatus(err)
	p.metrics.ClientError(reason)
	p.log.Debug("client request body", "route", x.route.Name, "status", status, "err", err)
	x.status.Detail = "client-body"
	shapeOwnAnswer(w, x)
	h := w.Header()
	h.Set("Cache-Status", x.status.String())
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Connection", "close")
	w.WriteHeader(status)
	io.WriteString(w, http.StatusText(status)+": the request body could not be read\n")
}
