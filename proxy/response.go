package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/store"
)

// The origin's response (the ReverseProxy ModifyResponse hook): stored
// while it streams to its client, applied to a stale entry (304, HEAD), or
// passed through.

// modifyResponse is the ReverseProxy ModifyResponse hook: it decides what
// happens to the origin's response, for every status, in this order.
// An error it returns makes originError answer (errServeStale,
// errCombined) or the fill ask again (errAskWhole).
func (p *Proxy) modifyResponse(resp *http.Response) error {
	f := fillOf(resp.Request)
	now := p.now()
	p.received(f, resp, now)
	// Decisions and the stored entry see every field; the client does not.
	defer f.x.st.outbound(resp)
	switch {
	case !f.x.cacheable:
		return p.passAnswered(f, resp, now)
	case f.stale != nil && resp.StatusCode == http.StatusNotModified:
		return p.revalidated(f, resp, now)
	case f.stale != nil && resp.StatusCode >= 500 && p.keepsStaleOver5xx(f):
		return errServeStale
	case f.forwardsHead():
		return p.headAnswered(f, resp, now)
	}
	if f.part != nil {
		if handled, err := p.completeAnswered(f, resp, now); handled {
			return err
		}
	}
	dec := p.storeDecision(f, resp, now)
	if !dec.Store {
		return p.passUnstored(f, resp, dec)
	}
	p.storeResponse(f, resp, dec, now)
	if policy.NotModified(f.client, resp.StatusCode, resp.Header) {
		return p.answerNotModified(resp)
	}
	return nil
}

// received records the origin's answer (Cache-Status fwd-status, origin
// time, metrics), gives a response without Date the time it was received
// (RFC 9110 §6.6.1: the age calculation relies on it) and applies the
// route's response shaping, before anything is decided or stored.
func (p *Proxy) received(f *fill, resp *http.Response, now time.Time) {
	x := f.x
	x.status.FwdStatus = resp.StatusCode
	x.originTime = now.Sub(f.requestTime)
	x.upstream = f.upstreamLabel()
	p.metrics.Origin(x.route.Name, resp.StatusCode, x.originTime)
	if resp.Header.Get("Date") == "" {
		resp.Header.Set("Date", now.UTC().Format(http.TimeFormat))
	}
	x.route.ShapeResponse(resp.Header)
}

// outbound makes resp what leaves for the client: the internal fields
// stripped, this cache's Via member added (RFC 9110 §7.6.3).
func (st *state) outbound(resp *http.Response) {
	st.stripInternalFields(resp.Header)
	resp.Header.Add("Via", st.via(resp.Proto))
}

// passAnswered handles the answer to a request that passed to the origin
// (not cacheable): an unsafe method invalidates what it names
// (invalidateAfterUnsafe) and what its route's rules name
// (invalidateByRules), and a POST's answer may be stored for GETs
// (storePost).
func (p *Proxy) passAnswered(f *fill, resp *http.Response, now time.Time) error {
	p.invalidateAfterUnsafe(f, resp)
	p.invalidateByRules(f, resp)
	if !p.storePost(f, resp, now) {
		resp.Header.Set("Cache-Status", f.x.status.String())
	}
	return nil
}

// keepsStaleOver5xx reports whether a 5xx from the origin leaves f's
// stale entry in place: always for a background refresh, whose stale copy
// stays until a refresh succeeds; for a client, when the entry may serve
// it instead (stale-if-error, RFC 5861 §4; policy.DecideReuseAfterError).
func (p *Proxy) keepsStaleOver5xx(f *fill) bool {
	return f.background || p.reuseAfterError(f, true) != policy.ErrorReuseNone
}

// storeDecision is whether and how the origin's response is stored
// (policy.DecideStore; DecideStorePartial for a 206 to a forwarded Range),
// within the request's no-store and cache.max_object_bytes.
func (p *Proxy) storeDecision(f *fill, resp *http.Response, now time.Time) policy.StoreDecision {
	x := f.x
	var dec policy.StoreDecision
	if resp.StatusCode == http.StatusPartialContent && f.forwardsRange() {
		dec = policy.DecideStorePartial(x.route, f.client, resp.Header, f.requestTime, now)
	} else {
		dec = policy.DecideStore(x.route, f.client, resp.StatusCode, resp.Header, f.requestTime, now)
	}
	return dec.Limited(x.rd, resp.ContentLength, int64(x.st.cfg.Cache.MaxObjectBytes))
}

// passUnstored passes a response that is not stored to its client, and
// releases the requests that waited for the fill at once: they fetch for
// themselves, and the key becomes hit-for-pass.
func (p *Proxy) passUnstored(f *fill, resp *http.Response, dec policy.StoreDecision) error {
	x := f.x
	// A range fill tells nothing of the whole response: it never makes
	// the key hit-for-pass.
	f.uncacheable.Store(!f.forwardsRange())
	// The waiters need not wait for this response to reach its client.
	f.announce()
	if x.status.Detail != hitForPass {
		x.status.Detail = dec.Reason
	}
	resp.Header.Set("Cache-Status", x.status.String())
	return nil
}

// storeResponse stores resp as f's entry while it streams to the client:
// the fill reads the body (readOrigin) and the client reads it from
// memory. It sets the response's Cache-Status.
func (p *Proxy) storeResponse(f *fill, resp *http.Response, dec policy.StoreDecision, now time.Time) {
	x := f.x
	e := p.newEntry(f, resp, dec, now)
	f.body = newOriginBody(resp.Body, resp.ContentLength, f.cancel)
	go p.readOrigin(context.WithoutCancel(resp.Request.Context()), f, e, int64(x.st.cfg.Cache.MaxObjectBytes), x.st.cfg.OriginTimeouts.ResponseHeader.D())
	resp.Body = &bodyReader{b: f.body}
	x.status.TTL, x.status.HasTTL = entryFreshness(e).TTL(policy.CurrentAge(resp.Header, f.requestTime, now, now)), true
	p.statusBeforeHeaders(f, resp.ContentLength)
	resp.Header.Set("Cache-Status", x.status.String())
}

// storedBeforeHeaders is the largest body whose store write the client's
// response headers wait for, so that Cache-Status can say whether it was
// stored (RFC 9211 §2.5). They wait for the origin, never for the client;
// larger bodies stream at once and their Cache-Status says
// detail=streamed instead of stored.
const storedBeforeHeaders = 256 << 10

// statusBeforeHeaders sets the Cache-Status of a response being stored:
// stored only when the body came whole and the store took it, store-error
// when it refused it, streamed when the headers could not wait.
func (p *Proxy) statusBeforeHeaders(f *fill, contentLength int64) {
	x := f.x
	if contentLength > storedBeforeHeaders || !f.body.settledBefore(storedBeforeHeaders) {
		x.status.Detail = "streamed"
		return
	}
	switch {
	case f.stored.Load():
		x.status.Stored = true
	case f.body.outgrew():
		x.status.Detail = "too-large"
	case f.body.cut():
		// The client gets the cut body as it came.
	case f.misfit.Load():
		x.status.Detail = "partial" // a 206 whose body is not its range
	case f.unstored != "":
		x.status.Detail = f.unstored
	default:
		x.status.Detail = detailStoreError
	}
}

// readOrigin is the fill's goroutine: it reads the origin's body into
// f.body at the origin's pace, stores e when the body is complete and
// settles the collapsed flight, so that the requests waiting for the fill
// get the entry without waiting for the client that caused it. A body cut
// off by the origin is never stored.
func (p *Proxy) readOrigin(ctx context.Context, f *fill, e *store.Entry, maxBytes int64, idle time.Duration) {
	defer close(f.body.done)
	body, complete := f.body.read(maxBytes, idle)
	switch {
	case complete && !policy.BodyFits(e.Status, e.Header, len(body)):
		// A 206 whose body is not the range it names is not stored.
		f.misfit.Store(true)
	case complete:
		e.Body = body
		e.Header.Set("Content-Length", strconv.Itoa(len(body)))
		if p.save(ctx, f, e) {
			f.storedAs(e)
		}
	case f.body.outgrew():
		// Like a Content-Length over the bound: hit-for-pass.
		f.uncacheable.Store(true)
	}
	f.announce()
}

// detailStoreError is the Cache-Status detail (RFC 9211 §2.8) of a
// response that could be stored but whose store write failed: that of the
// fill's own client, and that of the requests of this process that waited
// for the fill and were served what it could not store.
const detailStoreError = "store-error"

// hitForPass is the Cache-Status detail of a request that went to the
// origin without waiting because its key's last fill was not storable.
const hitForPass = "hit-for-pass"

// answerNotModified turns a full origin response into a 304 for a client
// whose validators match it (RFC 9110 §13.1); the fill goes on storing the
// body.
func (p *Proxy) answerNotModified(resp *http.Response) error {
	resp.Body.Close()
	notModified(resp.Header)
	resp.StatusCode, resp.Status = http.StatusNotModified, ""
	resp.Body, resp.ContentLength = http.NoBody, 0
	return nil
}

// revalidated applies a 304 from the origin to the stale entry (RFC 9111
// §4.3.3, §4.3.4): the stored header fields are updated, freshness is
// recomputed, and the client gets the stored body.
func (p *Proxy) revalidated(f *fill, resp *http.Response, now time.Time) error {
	x, old := f.x, f.stale
	header := policy.UpdateHeaders(old.Header, resp.Header)
	dec := policy.DecideStore(x.route, f.client, old.Status, header, f.requestTime, now)
	x.status.Fwd = "stale"
	if dec.Store {
		e := p.newEntry(f, &http.Response{StatusCode: old.Status, Header: header}, dec, now)
		e.Body = old.Body
		if p.save(context.WithoutCancel(resp.Request.Context()), f, e) {
			f.storedAs(e)
			x.status.Stored = true
		} else if f.unstored != "" {
			x.status.Detail = f.unstored
		} else {
			x.status.Detail = detailStoreError
		}
		x.status.TTL, x.status.HasTTL = dec.Freshness, true
	}
	resp.Body.Close()
	out := header.Clone()
	out.Set("Cache-Status", x.status.String())
	resp.Header = out
	if policy.NotModified(f.client, old.Status, header) {
		notModified(resp.Header)
		resp.StatusCode, resp.Status = http.StatusNotModified, ""
		resp.Body, resp.ContentLength = http.NoBody, 0
		return nil
	}
	resp.StatusCode, resp.Status = old.Status, ""
	resp.Body = io.NopCloser(bytes.NewReader(old.Body))
	resp.ContentLength = int64(len(old.Body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(old.Body)))
	return nil
}

// detailChanged is the Cache-Status detail of a HEAD whose answer showed
// that the stored representation changed: the entry was dropped.
const detailChanged = "representation-changed"

// headAnswered applies the origin's answer to a HEAD forwarded for a stale
// entry (RFC 9111 §4.3.5). A 200 that describes the stored representation
// (policy.HeadMatches) updates the entry as a 304 would (revalidated); a
// 200 that shows another representation drops the entry, which must not
// be used any more; any other answer passes to the client and leaves the
// entry alone. A response to HEAD has no body: it is never stored as an
// entry, and the requests that waited for this fill fetch for themselves
// unless it updated the entry.
func (p *Proxy) headAnswered(f *fill, resp *http.Response, now time.Time) error {
	x := f.x
	x.status.Fwd = "stale"
	if resp.StatusCode != http.StatusOK {
		resp.Header.Set("Cache-Status", x.status.String())
		return nil
	}
	if f.stale.Status == http.StatusOK && policy.HeadMatches(f.stale.Header, resp.Header) {
		return p.revalidated(f, resp, now)
	}
	ctx := context.WithoutCancel(resp.Request.Context())
	if err := p.store.Delete(ctx, x.storeID()); err != nil {
		p.log.Error("store delete", "key", x.key.String(), "route", x.route.Name, "err", err)
	}
	x.status.Detail = detailChanged
	resp.Header.Set("Cache-Status", x.status.String())
	return nil
}
