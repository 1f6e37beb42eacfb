package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/store"
)

// Unsafe methods (RFC 9111 §4.4): the URLs their answers invalidate, in
// every instance, for exactly as long as an entry of them can live; and a
// POST's answer stored for GETs of its URI (RFC 9110 §9.3.3).

// storePost stores a response to a POST as the response to a GET of the
// POST's target URI when it says it is one (policy.DecideStorePost, RFC
// 9110 §9.3.3), and reports whether it did so (then the response's
// Cache-Status is set). Its Content-Location is compared with the target
// by cache key, under the route a GET of the target takes; its scheme is
// not compared (the origin may see http behind a TLS listener).
//
// It runs after invalidateAfterUnsafe: the entry is stamped with the purge
// sequence read after that mark, or the invalidation this very response
// caused (RFC 9111 §4.4) would invalidate it at once.
func (p *Proxy) storePost(f *fill, resp *http.Response, now time.Time) bool {
	r, x := f.client, f.x
	loc := resp.Header.Get("Content-Location")
	if r.Method != http.MethodPost || loc == "" || x.badTarget || policy.ParseRequestDirectives(r.Header).NoStore {
		return false
	}
	get := &http.Request{Method: http.MethodGet, URL: r.URL, Host: r.Host, Header: r.Header}
	rt := x.st.cfg.Route(get)
	if rt.Bypass {
		return false
	}
	key := rt.KeyOf(x.target, r.Header)
	locKey, ok := contentLocationKey(rt, r, loc)
	dec := policy.DecideStorePost(rt, r, ok && locKey == key, resp.StatusCode, resp.Header, f.requestTime, now)
	if !dec.Store || resp.ContentLength > int64(x.st.cfg.Cache.MaxObjectBytes) {
		return false
	}
	// The entry is the GET's: its route, key and store key.
	gx := &exchange{st: x.st, route: rt, start: x.start, key: key, id: key.ID(), status: x.status, cacheable: true, target: x.target}
	f.x = gx
	f.seq = p.purger.FillSeq(context.WithoutCancel(r.Context()))
	p.storeResponse(f, resp, dec, now)
	x.status = gx.status
	return true
}

// contentLocationKey is the cache key of a GET of the URI a
// Content-Location names (resolved against the request's target, RFC 9110
// §8.7), under route rt, or false when it cannot be read.
func contentLocationKey(rt *policy.Route, r *http.Request, loc string) (policy.Key, bool) {
	u, err := r.URL.Parse(loc)
	if err != nil {
		return policy.Key{}, false
	}
	host := r.Host
	if u.Host != "" {
		host = u.Host
	}
	return rt.Key(&http.Request{Method: http.MethodGet, URL: u, Host: host, Header: r.Header}, scheme(r)), true
}

// invalidateAfterUnsafe invalidates, in every instance, the stored
// responses for the target URI and for same-origin Location and
// Content-Location after a non-error response to an unsafe method (RFC 9111
// §4.4), and the cache groups named by Cache-Group-Invalidation (RFC 9875
// §3).
//
// A URL is marked only when something could be invalidated (see
// invalidationUntil), and the mark is kept only as long as that can live:
// POSTs to distinct URLs that were never cached leave nothing behind.
func (p *Proxy) invalidateAfterUnsafe(f *fill, resp *http.Response) {
	switch f.client.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return
	}
	if resp.StatusCode >= 400 {
		return
	}
	ctx := context.WithoutCancel(f.client.Context())
	now := p.now()
	var scopes []purge.Scope
	var until time.Time
	var filling []*url.URL
	addURL := func(u *url.URL) {
		inv, ok := p.invalidationUntil(ctx, f.x.st.cfg, u, f.client, now, true)
		if ok {
			scopes = append(scopes, inv.scopes...)
			until = later(until, inv.until)
		}
		if inv.filling {
			filling = append(filling, u)
		}
	}
	addURL(f.client.URL)
	for _, name := range []string{"Location", "Content-Location"} {
		v := resp.Header.Get(name)
		if v == "" {
			continue
		}
		u, err := f.client.URL.Parse(v)
		if err != nil || !sameOrigin(u, f.client) {
			continue
		}
		addURL(u)
	}
	by := f.client.Method + " " + f.client.Host + f.client.URL.RequestURI()
	p.invalidateGroups(ctx, f, resp, by, now)
	if len(scopes) == 0 {
		return
	}
	// A refused mark is applied here and retried (purge.Redis), and the
	// audit (purge.Audited) logs it; look again all the same.
	ctx = purge.WithSource(ctx, purge.Source{Kind: purge.SourceUnsafe, By: by})
	p.purger.Mark(ctx, scopes, until)
	p.remarkStored(ctx, f, filling, until, now)
}

// sameOrigin reports whether u, resolved against r's target, names a
// resource of r's host (RFC 9111 §4.4 invalidates only those): an http or
// https URI of the same host. Either scheme is taken, so that an origin
// behind a TLS terminator that answers with https Locations still
// invalidates; a URI of another scheme (mailto:, tel:, urn:) names no
// resource cachegate stores.
func sameOrigin(u *url.URL, r *http.Request) bool {
	if u.Opaque != "" || u.Scheme != "" && !strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https") {
		return false
	}
	return u.Host == "" || strings.EqualFold(u.Host, r.Host)
}

// invalidateGroups marks the cache groups of the request's host that a
// response to an unsafe method names in Cache-Group-Invalidation (RFC
// 9875 §3). The origin names the groups; their members may live as long
// as any entry, so the marks are kept the whole horizon. They are a mark
// of their own, apart from the URLs', so that the audit tells them apart
// and the URLs' marks stay as short as their entries.
func (p *Proxy) invalidateGroups(ctx context.Context, f *fill, resp *http.Response, by string, now time.Time) {
	host := hostOf(f.client)
	var scopes []purge.Scope
	for _, g := range policy.CacheGroups(resp.Header, "Cache-Group-Invalidation") {
		scopes = append(scopes, purge.Scope{Kind: purge.Group, Value: purge.GroupValue(host, g)})
	}
	if len(scopes) > 0 {
		p.purger.Mark(purge.WithSource(ctx, purge.Source{Kind: purge.SourceCacheGroup, By: by}), scopes, now.Add(purge.MarkHorizon))
	}
}

// remarkStored closes the race between the lookup that found a fill of a
// URL in flight and the mark kept only fillStoreBound for it: a fill
// that stored and verified its stamp (save) in between saw no mark and
// keeps its entry. Looked up again now that the mark is in place, such an
// entry is in the store, and its URL is marked again until it leaves; a
// fill storing later sees the mark (save). Only URLs that had a fill in
// flight are looked up again.
func (p *Proxy) remarkStored(ctx context.Context, f *fill, urls []*url.URL, until, now time.Time) {
	var scopes []purge.Scope
	var longer time.Time
	for _, u := range urls {
		inv, ok := p.invalidationUntil(ctx, f.x.st.cfg, u, f.client, now, false)
		if ok && inv.until.After(until) {
			scopes = append(scopes, inv.scopes...)
			longer = later(longer, inv.until)
		}
	}
	if len(scopes) == 0 {
		return
	}
	p.purger.Mark(ctx, scopes, longer)
}

// markSlack is added to a URL mark's lifetime for the clocks of other
// instances, which trim the mark, being behind this one's, and for a fill
// the moment between its flight's start and its own (fill.start).
const markSlack = time.Minute

// urlInvalidation is what an unsafe request marks for one URL: the URL
// scopes of its forms that hold something, until when the mark is kept,
// and whether a fill of it was in flight (then the mark may be kept only
// fillStoreBound, see remarkStored).
type urlInvalidation struct {
	scopes  []purge.Scope
	until   time.Time
	filling bool
}

// invalidationUntil returns the URL scopes of a GET of u (with the unsafe
// request's host) and until when their mark must be kept, or false when
// nothing stored or being stored can be invalidated by it. Fills in flight
// are looked up only when fills is set.
//
// Routes key the query apart (ignore_query), so a GET of u may be stored
// under several URL forms: the one of the route the unsafe request's
// fields take, and that of every route a GET with other fields could take
// (a conditional route). Each form is looked up apart (formInvalidation)
// and marked when it holds something, as a URL purge marks them all
// (policy.Rules.URLKeysOfGET); the mark is kept as long as the
// longest-lived of them.
//
// A mark is needed only for an entry whose fill started before it. Such an
// entry is either in the store now or being filled now. On most routes it
// is stored under the primary key of the URL (an entry or a Vary marker,
// on either scheme: the URL scope spans both), or filled under a flight
// here or a lease in any instance. On a route keying request fields the
// entries of other values have other keys: every fill there records
// itself under the URL (collapse.BeginURL) and every store writes the URL
// record first (urlRecord), which are looked up instead. A stored entry
// leaves the store at its ResponseTime plus its store TTL (save measures
// the TTL from then), and a Vary marker or URL record at its ResponseTime,
// after every entry it covers, so the mark is kept that long. A fill in
// flight stores only within fillStoreBound of its start, and only after
// verifying its purge stamp against the marks taken until then (save):
// for it the mark is kept fillStoreBound (plus markSlack) from now, never
// the whole horizon, so that slow GETs paired with POSTs on distinct URLs
// leave no lasting marks. A marker without an expiry or a store that does
// not answer may hold entries that live up to the store's cap: the mark
// then lives the whole horizon. No entry therefore outlives the mark that
// invalidates it.
//
// Not covered: a copy held only in another instance's in-process L1 whose
// L2 copy Redis evicted; a URL record evicted before the entries it
// covers (they are read, it is not), unless the unsafe request's own
// entry is stored (the mark then lives the whole horizon); a credentialed
// fill (never collapsed) that another instance runs at the same moment on
// a route not keying request fields; a fill in another instance that
// outlasts its lease (collapse wait, or five minutes on a keyed route);
// two variants of one URL stored at the same moment, or a marker read
// from a tiered store's L1 within a second of another instance's store,
// where the marker may keep only the shorter expiry; a copy another
// instance read into its L1 between a fill's store write and its deletion
// (save, unsave).
func (p *Proxy) invalidationUntil(ctx context.Context, cfg *policy.Rules, u *url.URL, client *http.Request, now time.Time, fills bool) (urlInvalidation, bool) {
	get := &http.Request{Method: http.MethodGet, URL: u, Host: client.Host, Header: client.Header}
	rt := cfg.Route(get)
	key := rt.Key(get, scheme(client))
	var inv urlInvalidation
	for _, form := range urlForms(cfg, u, client, key) {
		fi, ok := p.formInvalidation(ctx, cfg, get, rt, form, now, fills)
		inv.filling = inv.filling || fi.filling
		if ok {
			inv.scopes = append(inv.scopes, fi.scopes...)
			inv.until = later(inv.until, fi.until)
		}
	}
	return inv, len(inv.scopes) > 0
}

// urlForms are the keys of the URL forms a GET of u may be stored under
// (policy.Rules.URLKeysOfGET on u with the unsafe request's scheme and
// host), or only key, the form of the unsafe request's own route, when u
// cannot be made absolute (no Host). key's form is among them unless its
// route bypasses the cache, and then stores nothing.
func urlForms(cfg *policy.Rules, u *url.URL, client *http.Request, key policy.Key) []policy.Key {
	abs := *u
	abs.Scheme, abs.Host = scheme(client), client.Host
	forms, err := cfg.URLKeysOfGET(&abs)
	if err != nil {
		return []policy.Key{key}
	}
	return forms
}

// formInvalidation is invalidationUntil for one URL form of the GET get,
// that of the key form (under the unsafe request's own route rt or under
// another route): its scopes are form's URL scope alone.
func (p *Proxy) formInvalidation(ctx context.Context, cfg *policy.Rules, get *http.Request, rt *policy.Route, form policy.Key, now time.Time, fills bool) (urlInvalidation, bool) {
	scope := purge.URLScope(form)
	inv := urlInvalidation{scopes: []purge.Scope{scope}}
	forever := now.Add(purge.MarkHorizon)
	var fillUntil time.Time
	if fills {
		fillUntil = now.Add(fillStoreBound(cfg.OriginTimeouts) + markSlack)
	}
	found := false
	look := func(rt *policy.Route, id string, filling func(context.Context, string) bool) (time.Time, bool, bool) {
		if fills && filling(ctx, id) {
			inv.filling = true
		}
		return p.storedUntil(ctx, rt, id)
	}
	// Entries of the target may be stored under another route than the
	// unsafe request's own (a route with conditions it did not satisfy).
	var keyed *policy.Route
	for _, srt := range cfg.StoringRoutes(get) {
		for _, sch := range []string{"http", "https"} {
			k := srt.Key(get, sch)
			if purge.URLScope(k) != scope {
				continue // another form, looked up apart
			}
			t, ok, sure := look(srt, k.ID(), p.collapse.Filling)
			if !sure {
				inv.until = forever
				return inv, true
			}
			if ok {
				found = true
				inv.until = later(inv.until, t)
			}
		}
		if srt.KeysRequestFields() && sameForm(srt, get, form) {
			keyed = srt
		}
	}
	if rt.KeysRequestFields() && keyed == nil && sameForm(rt, get, form) {
		keyed = rt
	}
	if keyed != nil {
		t, ok, sure := look(keyed, form.URLID(), p.collapse.FillingURL)
		switch {
		case !sure, !ok && found:
			// The URL record is gone while an entry of the URL is stored:
			// it was evicted, and the entries of other values cannot be
			// found.
			inv.until = forever
			return inv, true
		case ok:
			found = true
			inv.until = later(inv.until, t)
		}
	}
	if inv.filling {
		found = true
		inv.until = later(inv.until, fillUntil)
	}
	return inv, found
}

// sameForm reports whether route rt stores a GET get under the URL form
// of form: its URL record (Key.URLID) is then form's.
func sameForm(rt *policy.Route, get *http.Request, form policy.Key) bool {
	return rt.Key(get, form.Scheme).URL() == form.URL()
}

// storedUntil looks up what the store holds under id and returns until
// when a mark must be kept for it (found), or sure false when the mark
// must be kept the whole horizon: the store does not answer, or a marker
// has no expiry.
func (p *Proxy) storedUntil(ctx context.Context, rt *policy.Route, id string) (until time.Time, found, sure bool) {
	e, err := p.store.Get(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return time.Time{}, false, true
	case err != nil, e.IsMarker() && e.ResponseTime.IsZero():
		return time.Time{}, false, false
	case e.IsMarker():
		return e.ResponseTime.Add(markSlack), true, true
	}
	return storeExpiry(e, rt).Add(markSlack), true, true
}

// later is the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
