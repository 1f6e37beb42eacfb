package proxy

import (
	"context"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/store"
)

// Storing a fill's entry: the entry, its Vary marker and URL record, how
// long the store keeps them, and the checks that keep a purged fill out.

// newEntry builds the entry a response will be stored as (its body comes
// when the fill has read it whole).
func (p *Proxy) newEntry(f *fill, resp *http.Response, dec policy.StoreDecision, now time.Time) *store.Entry {
	x := f.x
	header := resp.Header.Clone()
	header.Del("Cache-Status")
	for _, name := range dec.OmitHeaders {
		header.Del(name)
	}
	vary, _ := policy.VaryNames(resp.Header)
	dec = dec.Jittered(x.route.TTLJitter, rand.Float64())
	return &store.Entry{
		Key:                  x.key.String(),
		Route:                x.route.Name,
		Host:                 hostOf(f.client),
		URL:                  x.key.URL(),
		Tags:                 tagsOf(x.st.cfg, x.route, resp.Header),
		Groups:               policy.CacheGroups(resp.Header, "Cache-Groups"),
		Seq:                  f.seq,
		Vary:                 vary,
		Status:               resp.StatusCode,
		Header:               header,
		RequestTime:          f.requestTime,
		ResponseTime:         now,
		Freshness:            dec.Freshness,
		StaleWhileRevalidate: dec.StaleWhileRevalidate,
		StaleIfError:         dec.StaleIfError,
		MustRevalidate:       dec.MustRevalidate,
		Upstream:             f.upstreamLabel(),
	}
}

// save stores e, filled by f, under the request's key: directly when the
// response does not vary, else as a variant behind a Vary marker on the
// primary key. The store keeps it until storeExpiry, measured from its
// ResponseTime (not from when its body was read), so that
// invalidationUntil knows when it leaves the store. On a route keying
// request fields the URL record is written first, so that no entry is
// stored that it does not cover.
//
// The invalidation after an unsafe request that finds only a fill in
// flight keeps its mark only fillStoreBound (invalidationUntil), not as
// long as the fill's entry may live. So a fill stores only within
// fillStoreBound of its start, and verifies its purge stamp against
// every mark taken until then (purge.Purger.Verify) just before the
// store write and once more just after it: a mark that landed before the
// first read is seen there and nothing is stored; one that landed during
// the write is seen by the second, and the entry is deleted again.
//
// A write the store fails (that of the entry or of a marker it needs)
// leaves e to the requests of this process that waited for the fill
// (unstoredAs): it passed the first check, and each waiter checks it
// against the marks again before it is served (collapsedEntry).
func (p *Proxy) save(ctx context.Context, f *fill, e *store.Entry) bool {
	x := f.x
	ttl := storeExpiry(e, x.route).Sub(p.now())
	if ttl <= 0 {
		return false
	}
	if bound := fillStoreBound(x.st.cfg.OriginTimeouts); p.now().Sub(f.start) > bound {
		p.log.Debug("fill not stored: it ran longer than the fill bound", "key", e.Key, "route", e.Route, "bound", bound)
		f.unstored = "fill-too-slow"
		return false
	}
	if p.purger.Verify(ctx, e) == purge.Purged {
		f.unstored = purgedDuringFill
		return false
	}
	if x.route.KeysRequestFields() && !p.setMarker(ctx, x.key.URLID(), p.urlRecord(ctx, x, e)) {
		f.unstoredAs(e)
		return false
	}
	id := x.id
	if len(e.Vary) > 0 {
		if !p.setMarker(ctx, x.id, p.varyMarker(ctx, x, e)) {
			f.unstoredAs(e)
			return false
		}
		id = x.key.VariantID(policy.VaryKey(e.Vary, f.client.Header))
	}
	if err := p.store.Set(ctx, id, e, ttl); err != nil {
		p.log.Error("store set", "key", e.Key, "route", e.Route, "err", err)
		f.unstoredAs(e)
		return false
	}
	if p.purger.Verify(ctx, e) == purge.Purged {
		p.unsave(ctx, id, e)
		f.unstored = purgedDuringFill
		return false
	}
	return true
}

// purgedDuringFill is the Cache-Status detail of a response a purge (or
// an unsafe request) invalidated while it was being filled, or whose purge
// stamp could not be verified: it was not stored.
const purgedDuringFill = "purged-during-fill"

// fillStoreBound is how long after its start a fill may still store its
// entry under the origin timeouts t (policy.FillStoreBound): a slower fill
// streams its response unstored (save), so that a mark made while it was
// in flight need be kept only this long (plus markSlack).
func fillStoreBound(t config.OriginTimeouts) time.Duration {
	return policy.FillStoreBound(t.Connect.D(), t.ResponseHeader.D())
}

// unsave deletes the entry a fill just stored under id when a mark taken
// during the write invalidates it (save). When the store does not answer,
// the entry's URL is marked for as long as it can live instead, so that
// it is never served once the shorter mark that found its fill is gone.
func (p *Proxy) unsave(ctx context.Context, id string, e *store.Entry) {
	err := p.store.Delete(ctx, id)
	if err == nil {
		return
	}
	p.log.Error("store delete of an entry purged while it was stored", "key", e.Key, "route", e.Route, "err", err)
	scope := purge.Scope{Kind: purge.URL, Value: e.URL}
	if err := p.purger.Mark(ctx, []purge.Scope{scope}, p.now().Add(store.MaxTTL+markSlack)); err != nil {
		p.log.Error("invalidate an entry purged while it was stored", "key", e.Key, "route", e.Route, "err", err)
	}
}

// setMarker stores the marker m under id until its ResponseTime.
func (p *Proxy) setMarker(ctx context.Context, id string, m *store.Entry) bool {
	if err := p.store.Set(ctx, id, m, m.ResponseTime.Sub(p.now())); err != nil {
		p.log.Error("store set", "key", m.Key, "route", m.Route, "err", err)
		return false
	}
	return true
}

// storeTTL is how long the store keeps e, stored under route rt
// (policy.StoreTTL): never more than store.MaxTTL, so that purge marks,
// which are dropped after that, always outlive the entries they
// invalidate.
func storeTTL(e *store.Entry, rt *policy.Route) time.Duration {
	return policy.StoreTTL(entryFreshness(e), e.Header, rt.StaleIfUnreachable.D(), store.MaxTTL)
}

// varyMarker is the Vary marker stored over variant e. Its ResponseTime
// is when the store drops it: the latest expiry of the variants stored
// under it (this one's, or that of the marker it replaces), so that the
// marker outlives every variant it leads to and invalidationUntil can
// keep a URL's mark exactly that long.
func (p *Proxy) varyMarker(ctx context.Context, x *exchange, e *store.Entry) *store.Entry {
	return &store.Entry{Key: e.Key, Route: e.Route, Host: e.Host, URL: e.URL, Vary: e.Vary, ResponseTime: p.latestExpiry(ctx, x.id, storeExpiry(e, x.route))}
}

// urlRecord is the URL record stored with e on a route keying request
// fields, under the key's URLID: a marker without Vary whose ResponseTime
// is the latest expiry of the entries stored for the URL, whatever their
// scheme and keyed fields, so that invalidationUntil finds them all by
// the URL alone and keeps a mark exactly as long as they can live.
func (p *Proxy) urlRecord(ctx context.Context, x *exchange, e *store.Entry) *store.Entry {
	return &store.Entry{Key: e.URL, Route: e.Route, Host: e.Host, URL: e.URL, ResponseTime: p.latestExpiry(ctx, x.key.URLID(), storeExpiry(e, x.route))}
}

// latestExpiry is the later of expiry and that recorded by the marker
// stored under id, if any.
func (p *Proxy) latestExpiry(ctx context.Context, id string, expiry time.Time) time.Time {
	if old, err := p.store.Get(ctx, id); err == nil && old.IsMarker() && old.ResponseTime.After(expiry) {
		return old.ResponseTime
	}
	return expiry
}

// storeExpiry is when the store drops e.
func storeExpiry(e *store.Entry, rt *policy.Route) time.Time {
	return e.ResponseTime.Add(storeTTL(e, rt))
}
