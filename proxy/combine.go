package proxy

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/store"
)

// Combining parts (RFC 9111 §3.4). A request that finds a stored part not
// holding what it asks (lookup: fwd=partial) asks the origin only for the
// bytes the part lacks, with If-Range and the part's strong entity-tag.
// A 206 of exactly those bytes of the same representation is combined
// with the part into the complete 200, stored like any, and the client is
// answered from it; a 200 is stored as ever; any other 206 (or 416) is
// never shown to the client, which asked for something else: the fill
// asks again for what the client asked, as if no part were stored.

// detailCombined is the Cache-Status detail of a response answered from a
// part combined with the origin's 206 of the bytes it lacked.
const detailCombined = "combined"

// errCombined, returned by modifyResponse, makes originError answer the
// client from the entry combined of the part and the origin's 206.
var errCombined = errors.New("part completed: answering from the combined entry")

// errAskWhole, returned by modifyResponse, makes the fill ask the origin
// again without completing the part: its answer to the completing range
// could not be combined.
var errAskWhole = errors.New("completing range not combined: asking again")

// completable returns the part f completes and what it asks for, or nil:
// the part lookup found not holding what the client asks (exchange.part),
// on the client's own fill, when the part has a completion
// (policy.CompletionOf), holds the bytes it names and its whole
// representation fits cache.max_object_bytes.
func (p *Proxy) completable(f *fill) (*store.Entry, policy.Completion) {
	part := f.x.part
	if part == nil || f.stale != nil || f.background || !f.x.cacheable {
		return nil, policy.Completion{}
	}
	c, ok := policy.CompletionOf(part.Header)
	if !ok || c.Missing.Size > int64(f.x.st.cfg.Cache.MaxObjectBytes) || !policy.BodyFits(part.Status, part.Header, len(part.Body)) {
		return nil, policy.Completion{}
	}
	return part, c
}

// completeAnswered applies the origin's answer to a completing range, and
// reports whether it handled it (then modifyResponse returns err): a 206
// that completes the part is read and combined (errCombined); another 206
// or a 416 answers something the client did not ask (errAskWhole). Any
// other answer (a 200: If-Range failed or Range was ignored; an error) is
// not handled, and is stored or passed through as on any fill.
func (p *Proxy) completeAnswered(f *fill, resp *http.Response, now time.Time) (bool, error) {
	switch {
	case f.completion.Completes(resp.StatusCode, resp.Header):
	case resp.StatusCode == http.StatusPartialContent, resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		f.askWhole = true
		return true, errAskWhole
	default:
		return false, nil
	}
	want := f.completion.Missing.Len()
	body := newOriginBody(resp.Body, min(resp.ContentLength, want), f.cancel)
	rest, complete := body.read(want, f.x.st.cfg.OriginTimeouts.ResponseHeader.D())
	if !complete || int64(len(rest)) != want {
		// A body that is not the range its Content-Range names (RFC 9110
		// §14.4) or that was cut completes nothing.
		f.askWhole = true
		return true, errAskWhole
	}
	f.combined = p.combine(f, resp.Header, rest, now)
	return true, errCombined
}

// combine makes the complete 200 of f's part and rest, the bytes it
// lacked, which came with header h (RFC 9111 §3.4: the newer response's
// fields, the whole length), stores it as any full 200 is stored, and
// returns it. An entry that may not be stored still answers this client:
// its bytes are proven the representation's by the strong validator.
func (p *Proxy) combine(f *fill, h http.Header, rest []byte, now time.Time) *store.Entry {
	x, c := f.x, f.completion
	header := c.CombinedHeader(h)
	body := make([]byte, 0, c.Missing.Size)
	if c.Missing.First == 0 {
		body = append(append(body, rest...), f.part.Body...)
	} else {
		body = append(append(body, f.part.Body...), rest...)
	}
	x.status.Detail = detailCombined
	dec := policy.DecideStore(x.route, f.client, http.StatusOK, header, f.requestTime, now)
	dec = dec.Limited(x.rd, int64(len(body)), int64(x.st.cfg.Cache.MaxObjectBytes))
	e := p.newEntry(f, &http.Response{StatusCode: http.StatusOK, Header: header}, dec, now)
	e.Body = body
	if !dec.Store {
		f.uncacheable.Store(true)
		return e
	}
	x.status.TTL, x.status.HasTTL = entryFreshness(e).TTL(policy.CurrentAge(header, f.requestTime, now, now)), true
	if p.save(context.WithoutCancel(f.client.Context()), f, e) {
		f.storedAs(e)
		x.status.Stored = true
	}
	return e
}

// deliverCombined answers the client from the entry combine made: the
// whole 200, or the ranges it asked (deliver).
func (p *Proxy) deliverCombined(w http.ResponseWriter, f *fill) {
	e := f.combined
	p.deliver(w, f.client, f.x, e, policy.CurrentAge(e.Header, e.RequestTime, e.ResponseTime, p.now()))
}
