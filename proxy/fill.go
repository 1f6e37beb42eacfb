package proxy

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/cachegate/cachegate/collapse"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/proxy/upstream"
	"github.com/cachegate/cachegate/store"
)

// The fill: one request to the origin whose response may be stored, how
// it runs through the ReverseProxy, and the request it sends (rewrite).

// fill is one request to the origin whose response may be stored: the
// origin side of an exchange (or of a background refresh), carried to the
// ReverseProxy hooks in the request context (fillOf). Collapsed fills
// share what they stored, or what the store failed to take, with the
// requests of this process that waited (sharedEntry).
type fill struct {
	x      *exchange
	client *http.Request
	// stale is the stored entry being revalidated, or nil on a miss.
	stale *store.Entry
	// background is set for a refresh that no client waits for.
	background bool
	// seq is the purge sequence when the fill started (purge package).
	seq uint64
	// start is when the fill started, before seq was read: it stores only
	// within fillStoreBound of it (save).
	start       time.Time
	requestTime time.Time
	// stored and uncacheable say how the fill ended, for collapsing.
	stored, uncacheable atomic.Bool
	// misfit is set when a 206's body was not the range it named (it is
	// not stored).
	misfit atomic.Bool
	// shared is what the fill stored, or what the store failed to take
	// when stored is not set (unstoredAs), for the requests that waited.
	shared *sharedEntry
	// unstored is the Cache-Status detail of an entry save refused to
	// store for what the fill itself did: it ran past fillStoreBound, or a
	// purge since its start invalidated it. Written before the body is
	// settled (readOrigin), read after.
	unstored string
	// settle, when the fill is collapsed, releases the requests waiting
	// for it as soon as its outcome is known (collapse.Settle).
	settle collapse.Settle
	// cancel ends the request to the origin.
	cancel context.CancelFunc
	// body is the response body being stored, once there is one.
	body *originBody
	// part is the stored part this fill completes, if any (completable,
	// RFC 9111 §3.4); completion is what it asks the origin for.
	part       *store.Entry
	completion policy.Completion
	// askWhole is set when the origin's answer to the completing range
	// could not be combined: the fill asks again, without the part.
	askWhole bool
	// combined is the entry made of the part and the origin's 206.
	combined *store.Entry
	// pool is the backend of the fill's route (rewrite); upstream is the
	// upstream that answered it, once one did (roundTrip).
	pool     *upstream.Pool
	upstream atomic.Pointer[upstream.Upstream]
}

// announce settles the collapsed flight with the fill's outcome.
func (f *fill) announce() {
	if f.settle != nil {
		f.settle(f.outcome(), f.shared)
	}
}

// finish waits for the goroutine storing the body, if any, or else ends
// the request to the origin; then stored, uncacheable and shared are
// final.
func (f *fill) finish() {
	if f.body == nil {
		f.cancel()
		return
	}
	<-f.body.done
}

// storedAs records that the fill stored e, for the requests that waited
// for it.
func (f *fill) storedAs(e *store.Entry) {
	f.shared = newSharedEntry(e, f.client.Header)
	f.stored.Store(true)
}

// unstoredAs records that the store failed to take e (its write failed:
// Redis down, timing out, full, the breaker open), an entry the fill was
// entitled to store: complete, storable, not purged since the fill
// started. The requests of this process that waited for the fill get it
// (collapse.Unstored) instead of each asking the origin while the store
// fails. An entry save refused for what the fill itself did (unstored:
// a purge, the fill bound) is never handed on: those requests fetch.
func (f *fill) unstoredAs(e *store.Entry) {
	f.shared = newSharedEntry(e, f.client.Header)
}

// outcome is how the fill ended, for the requests that waited for it.
func (f *fill) outcome() collapse.Outcome {
	switch {
	case f.stored.Load():
		return collapse.Stored
	case f.uncacheable.Load():
		return collapse.Uncacheable
	case f.shared != nil:
		return collapse.Unstored
	}
	return collapse.Failed
}

// fillContextKey is the context key under which a request to the origin
// carries its fill.
type fillContextKey struct{}

// fillOf is the fill a request to the origin belongs to.
func fillOf(r *http.Request) *fill {
	f, _ := r.Context().Value(fillContextKey{}).(*fill)
	return f
}

// fetchAlone forwards the request to the origin in a fill of its own, not
// collapsed with others (fetchCollapsed). For a cacheable request the
// response is stored when it may be (originBody) while it streams to the
// client; stale is the entry to revalidate, if any.
func (p *Proxy) fetchAlone(w http.ResponseWriter, r *http.Request, x *exchange, stale *store.Entry) {
	p.runFill(w, r, &fill{x: x, client: r, stale: stale})
}

// runFill runs fill f through the ReverseProxy. It returns when the fill
// has ended, even when the client left before.
func (p *Proxy) runFill(w http.ResponseWriter, r *http.Request, f *fill) {
	f.start = p.now()
	if f.x.cacheable {
		if f.x.route.KeysRequestFields() {
			// An unsafe request to the URL cannot name this fill's key;
			// it finds the fill by its URL (invalidationUntil). Recorded
			// before the sequence is read, and ended once the entry is
			// stored (after finish).
			defer p.collapse.BeginURL(f.x.requestContext(r), f.x.key.URLID())()
		}
		// Read before the request leaves: a purge that lands while the
		// origin answers then invalidates what this fill stores.
		f.seq = p.purger.FillSeq(f.x.requestContext(r))
	}
	f.part, f.completion = p.completable(f)
	defer f.finish()
	// The server writes the end of a chunked body after the handler, maybe
	// after a quiet spell of the origin.
	defer f.x.client.end()
	p.forward(w, r, f)
	if f.askWhole {
		// The origin's answer to the completing range could not be
		// combined (completeAnswered): ask for what the client asked.
		f.part, f.askWhole = nil, false
		p.forward(w, r, f)
	}
}

// forward sends f's request to the origin through the ReverseProxy, with
// a context of its own (ending that of an earlier request of the fill).
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, f *fill) {
	if f.cancel != nil {
		f.cancel()
	}
	ctx, cancel := p.originContext(r, f.background)
	f.cancel = cancel
	p.origin.ServeHTTP(w, r.WithContext(context.WithValue(ctx, fillContextKey{}, f)))
}

// originContext is the context of a request to the origin. It does not
// end when the client's side of the connection closes: a client may
// half-close once its request is sent and still expects the response (RFC
// 9112 §9.6), and a fill being stored serves other requests too. It ends
// with the proxy (Close) or by cancel; the origin timeouts and a failed
// write to the client bound it otherwise. A background refresh keeps its
// own context, which has a deadline.
func (p *Proxy) originContext(r *http.Request, background bool) (context.Context, context.CancelFunc) {
	if background {
		return context.WithCancel(r.Context())
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	stop := context.AfterFunc(p.background, cancel)
	return ctx, func() { stop(); cancel() }
}

// forwardingFields are the fields of the forwarding family that cachegate
// sets itself (policy.SetForwarding, when the request arrives).
// ReverseProxy removes them from the outbound request before Rewrite; the
// rewrite puts cachegate's values back.
var forwardingFields = []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded"}

// rewrite builds the request to the origin (the ReverseProxy Rewrite hook).
// The client's request was normalized when it arrived (classify): its
// target is the one that was keyed, and the hop-by-hop, Connection-listed
// and forwarding fields the client sent are gone.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	f := fillOf(pr.In)
	f.pool = f.x.st.backends.Pool(f.x.route.Backend)
	// The upstream is picked when the request is sent (roundTrip); its
	// scheme and host replace these.
	pr.SetURL(&url.URL{Scheme: "http", Host: "upstream", Path: f.pool.PathPrefix})
	pr.Out.Host = pr.In.Host
	if f.pool.HostHeader != "" {
		pr.Out.Host = f.pool.HostHeader
	}
	for _, name := range forwardingFields {
		if vs, ok := pr.In.Header[name]; ok {
			pr.Out.Header[name] = vs
		}
	}
	pr.Out.Header.Add("Via", f.x.st.via(pr.In.Proto))
	f.requestTime = p.now()
	if !f.x.cacheable {
		return
	}
	out := pr.Out
	// A GET body has no meaning (RFC 9110 §9.3.1) and is not part of the key.
	out.Body, out.ContentLength = nil, 0
	out.Header.Del("Content-Length")
	// A HEAD miss is fetched as GET so that the response can be stored and
	// serve later GETs too (as Varnish and nginx do); the server drops the
	// body. A HEAD that found a stale entry stays HEAD (forwardsHead).
	if !f.forwardsHead() {
		out.Method = http.MethodGet
	}
	// The client's own validators are answered by the cache (deliver); the
	// origin is asked for a full response, or validated with the stored
	// entry's validators (RFC 9111 §4.3.1).
	for _, name := range []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"} {
		out.Header.Del(name)
	}
	if !f.forwardsRange() {
		out.Header.Del("If-Range")
		out.Header.Del("Range")
	}
	if f.part != nil {
		// RFC 9111 §3.4: only the bytes the part lacks, and only while the
		// representation is the part's (else the origin sends the whole).
		out.Header.Set("Range", f.completion.Range())
		out.Header.Set("If-Range", f.completion.ETag)
	}
	forwardAsKeyed(out.Header, f.x.route)
	if f.stale != nil {
		for name, vs := range policy.ConditionalHeaders(f.stale.Header) {
			out.Header[name] = vs
		}
	}
}

// roundTrip sends a request made by rewrite to an upstream of its fill's
// backend (the ReverseProxy's transport), chosen for the fill's key, and
// records which upstream answered.
func (p *Proxy) roundTrip(r *http.Request) (*http.Response, error) {
	f := fillOf(r)
	resp, up, err := f.pool.RoundTrip(r, f.balanceKey(r))
	if up != nil {
		f.upstream.Store(up)
	}
	return resp, err
}

// upstreamLabel is the host:port of the upstream that answered f, or "".
func (f *fill) upstreamLabel() string {
	if up := f.upstream.Load(); up != nil {
		return up.Label
	}
	return ""
}

// balanceKey is what the hash balance hashes: the cache key, so that
// every miss of an object goes to the same upstream; a request without a
// key (passed to the origin) hashes its target.
func (f *fill) balanceKey(r *http.Request) string {
	if f.x.id != "" {
		return f.x.id
	}
	return r.Host + r.URL.RequestURI()
}

// forwardsRange reports whether the fill forwards the client's Range
// (and If-Range): a GET with Range that found nothing usable stored, and
// no part to complete. The origin's 206 is then stored as a partial entry
// (RFC 9111 §3.3), which serves later ranges inside it; a 200 is stored
// whole. Every other fill asks for the whole representation, or the rest
// of a part, so that what is stored serves every range.
func (f *fill) forwardsRange() bool {
	return !f.background && f.part == nil && rangeMiss(f.client, f.stale)
}

// rangeMiss reports whether r is a GET with Range for which nothing usable
// is stored (stored is nil).
func rangeMiss(r *http.Request, stored *store.Entry) bool {
	return stored == nil && r.Method == http.MethodGet && r.Header.Get("Range") != ""
}

// forwardsHead reports whether the fill asks the origin with HEAD: a
// client's HEAD that found a stale entry, validated with the entry's
// validators (RFC 9111 §4.3.5). Its answer updates the entry's header
// fields and freshness, never its body. A HEAD miss is fetched as GET, so
// that one fill serves HEADs and GETs.
func (f *fill) forwardsHead() bool {
	return f.client.Method == http.MethodHead && f.stale != nil && !f.background
}
