package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cachegate/cachegate/collapse"
	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/store"
)

// NewTransport returns the transport cachegate uses to reach the origin,
// with the configured timeouts. It never adds or removes a
// Content-Encoding by itself (DisableCompression), so stored bodies stay
// exactly as the origin sent them.
func NewTransport(t config.OriginTimeouts) *http.Transport {
	return &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   t.Connect.D(),
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSHandshakeTimeout:   t.Connect.D(),
		DisableCompression:    true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       t.Idle.D(),
		ResponseHeaderTimeout: t.ResponseHeader.D(),
		ExpectContinueTimeout: time.Second,
	}
}

// fill is the origin side of one exchange, carried to the ReverseProxy
// hooks in the request context.
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
	// filled is what the fill stored, for the requests that waited for it.
	filled *filled
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
}

// announce settles the collapsed flight with the fill's outcome.
func (f *fill) announce() {
	if f.settle != nil {
		f.settle(f.outcome(), f.filled)
	}
}

// finish waits for the goroutine storing the body, if any, or else ends
// the request to the origin; then stored, uncacheable and filled are
// final.
func (f *fill) finish() {
	if f.body == nil {
		f.cancel()
		return
	}
	<-f.body.done
}

// outcome is how the fill ended, for the requests that waited for it.
func (f *fill) outcome() collapse.Outcome {
	switch {
	case f.stored.Load():
		return collapse.Stored
	case f.uncacheable.Load():
		return collapse.Uncacheable
	}
	return collapse.Failed
}

// errServeStale, returned by modifyResponse, makes originError serve the
// stale entry instead of the origin's error response (RFC 5861 §4).
var errServeStale = errors.New("origin error response; serving stale")

type fillKey struct{}

func fillOf(r *http.Request) *fill {
	f, _ := r.Context().Value(fillKey{}).(*fill)
	return f
}

// fetch forwards the request to the origin. For a cacheable request the
// response is stored when it may be (originBody) while it streams to the
// client; stale is the entry to revalidate, if any.
func (p *Proxy) fetch(w http.ResponseWriter, r *http.Request, x *exchange, stale *store.Entry) {
	p.fill(w, r, &fill{x: x, client: r, stale: stale})
}

// fill runs one origin exchange for f through the ReverseProxy. It
// returns when the fill has ended, even when the client left before.
func (p *Proxy) fill(w http.ResponseWriter, r *http.Request, f *fill) {
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
	p.origin.ServeHTTP(w, r.WithContext(context.WithValue(ctx, fillKey{}, f)))
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
	pr.SetURL(f.x.st.origin)
	pr.Out.Host = pr.In.Host
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

// modifyResponse decides what happens to the origin's response: store it,
// refresh a stale entry with it (304), or pass it through (the
// ReverseProxy ModifyResponse hook). It runs for every status.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	f := fillOf(resp.Request)
	x := f.x
	now := p.now()
	x.status.FwdStatus = resp.StatusCode
	x.originTime = now.Sub(f.requestTime)
	p.metrics.Origin(x.route.Name, resp.StatusCode, x.originTime)
	if resp.Header.Get("Date") == "" {
		// RFC 9110 §6.6.1: a cache records when a response without Date
		// was received, and the age calculation relies on it.
		resp.Header.Set("Date", now.UTC().Format(http.TimeFormat))
	}
	// Decisions and the stored entry see every field; the client does not.
	defer func() {
		x.st.stripInternalFields(resp.Header)
		resp.Header.Add("Via", x.st.via(resp.Proto))
	}()
	if !x.cacheable {
		p.invalidateAfterUnsafe(f, resp)
		if !p.storePost(f, resp, now) {
			resp.Header.Set("Cache-Status", x.status.String())
		}
		return nil
	}
	if f.stale != nil && resp.StatusCode == http.StatusNotModified {
		return p.revalidated(f, resp, now)
	}
	if f.stale != nil && resp.StatusCode >= 500 {
		age := policy.CurrentAge(f.stale.Header, f.stale.RequestTime, f.stale.ResponseTime, now)
		if f.background || policy.DecideReuseOnError(entryFreshness(f.stale), age, x.rd) {
			// A 5xx never replaces the stale copy; the client gets the
			// stale copy within stale-if-error.
			return errServeStale
		}
	}
	if f.forwardsHead() {
		return p.headAnswered(f, resp, now)
	}
	if f.part != nil {
		if handled, err := p.completeAnswered(f, resp, now); handled {
			return err
		}
	}
	var dec policy.StoreDecision
	if resp.StatusCode == http.StatusPartialContent && f.forwardsRange() {
		dec = policy.DecideStorePartial(x.route, f.client, resp.Header, f.requestTime, now)
	} else {
		dec = policy.DecideStore(x.route, f.client, resp.StatusCode, resp.Header, f.requestTime, now)
	}
	if x.rd.NoStore {
		dec.Store, dec.Reason = false, "request-no-store"
	}
	if dec.Store && resp.ContentLength > int64(x.st.cfg.Cache.MaxObjectBytes) {
		dec.Store, dec.Reason = false, "too-large"
	}
	if !dec.Store {
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
	p.storeResponse(f, resp, dec, now)
	if policy.NotModified(f.client, resp.StatusCode, resp.Header) {
		return p.answerNotModified(resp)
	}
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
	x.status.TTL, x.status.HasTTL = e.Freshness-policy.CurrentAge(resp.Header, f.requestTime, now, now), true
	p.statusBeforeHeaders(f, resp.ContentLength)
	resp.Header.Set("Cache-Status", x.status.String())
}

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
	dec := policy.DecideStorePost(rt, r, contentLocationKey(rt, r, loc) == key.String(), resp.StatusCode, resp.Header, f.requestTime, now)
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

// contentLocationKey is the readable cache key of a GET of the URI a
// Content-Location names (resolved against the request's target, RFC 9110
// §8.7), under route rt, or "" when it cannot be read.
func contentLocationKey(rt *policy.Route, r *http.Request, loc string) string {
	u, err := r.URL.Parse(loc)
	if err != nil {
		return ""
	}
	host := r.Host
	if u.Host != "" {
		host = u.Host
	}
	return rt.Key(&http.Request{Method: http.MethodGet, URL: u, Host: host, Header: r.Header}, scheme(r)).String()
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
		x.status.Detail = "store-error"
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
	case complete && !partialFits(e, body):
		// A 206 whose body is not the range it names is not stored.
		f.misfit.Store(true)
	case complete:
		e.Body = body
		e.Header.Set("Content-Length", strconv.Itoa(len(body)))
		if p.save(ctx, f, e) {
			f.filled = &filled{entry: e, varyKey: policy.VaryKey(e.Vary, f.client.Header)}
			f.stored.Store(true)
		}
	case f.body.outgrew():
		// Like a Content-Length over the bound: hit-for-pass.
		f.uncacheable.Store(true)
	}
	f.announce()
}

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
			f.filled = &filled{entry: e, varyKey: policy.VaryKey(e.Vary, f.client.Header)}
			f.stored.Store(true)
			x.status.Stored = true
		} else if f.unstored != "" {
			x.status.Detail = f.unstored
		} else {
			x.status.Detail = "store-error"
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

// partialFits reports whether body is what e's status says: for a 206,
// exactly the bytes its Content-Range names (RFC 9110 §14.4).
func partialFits(e *store.Entry, body []byte) bool {
	if e.Status != http.StatusPartialContent {
		return true
	}
	cr, ok := policy.ParseContentRange(e.Header.Get("Content-Range"))
	return ok && cr.Len() == int64(len(body))
}

// forwardsHead reports whether the fill asks the origin with HEAD: a
// client's HEAD that found a stale entry, validated with the entry's
// validators (RFC 9111 §4.3.5). Its answer updates the entry's header
// fields and freshness, never its body. A HEAD miss is fetched as GET, so
// that one fill serves HEADs and GETs.
func (f *fill) forwardsHead() bool {
	return f.client.Method == http.MethodHead && f.stale != nil && !f.background
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
	if dec.RouteTTL && x.route.TTLJitter > 0 {
		// Spread the expiries of entries filled together.
		dec.Freshness -= time.Duration(float64(dec.Freshness) * x.route.TTLJitter * rand.Float64())
	}
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
		return false
	}
	id := x.id
	if len(e.Vary) > 0 {
		if !p.setMarker(ctx, x.id, p.varyMarker(ctx, x, e)) {
			return false
		}
		id = x.key.VariantID(policy.VaryKey(e.Vary, f.client.Header))
	}
	if err := p.store.Set(ctx, id, e, ttl); err != nil {
		p.log.Error("store set", "key", e.Key, "route", e.Route, "err", err)
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
// entry: the connection, the wait for the response headers and as long
// again for the body (each read of which response_header bounds too). A
// fill slower than that streams its response and does not store it
// (save), so that a mark made while it was in flight need be kept only
// this long (plus markSlack), not as long as its entry could live.
func fillStoreBound(t config.OriginTimeouts) time.Duration {
	return t.Connect.D() + 2*t.ResponseHeader.D()
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

// keepForRevalidation is how long an entry with validators is kept past
// its stale windows, so that the origin can still answer 304 for it.
const keepForRevalidation = time.Hour

// storeTTL is how long the store keeps an entry: its freshness, the longest
// of its stale windows and its route's stale_if_unreachable, and a grace for revalidation when it has
// validators; never more than store.MaxTTL, so that purge marks, which are
// dropped after that, always outlive the entries they invalidate.
func storeTTL(e *store.Entry, rt *policy.Route) time.Duration {
	unreachable := rt.StaleIfUnreachable.D()
	if e.MustRevalidate {
		unreachable = 0 // never served stale, even disconnected
	}
	ttl := e.Freshness + max(e.StaleWhileRevalidate, e.StaleIfError, unreachable)
	if e.Header.Get("ETag") != "" || e.Header.Get("Last-Modified") != "" {
		ttl += keepForRevalidation
	}
	return min(max(ttl, time.Second), store.MaxTTL)
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
		age := policy.CurrentAge(f.stale.Header, f.stale.RequestTime, f.stale.ResponseTime, p.now())
		ef := entryFreshness(f.stale)
		detail := ""
		switch {
		case policy.DecideReuseOnError(ef, age, x.rd):
			detail = "stale-if-error"
		case !errors.Is(err, errServeStale) && policy.DecideReuseWhenUnreachable(ef, age, x.rd, x.route.StaleIfUnreachable.D()):
			// The origin was not reached at all (refused, reset, closed,
			// timed out): a disconnected cache may serve stale (RFC 9111
			// §4.2.4).
			detail = "origin-unreachable"
		}
		if detail != "" {
			x.status.Hit = true
			x.status.Fwd = ""
			x.status.Detail = detail
			p.deliver(w, f.client, x, f.stale, age)
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
			scopes = append(scopes, inv.scope)
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
		if err != nil || (u.Host != "" && !strings.EqualFold(u.Host, f.client.Host)) {
			continue
		}
		addURL(u)
	}
	host := hostOf(f.client)
	for _, g := range policy.CacheGroups(resp.Header, "Cache-Group-Invalidation") {
		// The origin names the groups; their members may live as long as
		// any entry.
		scopes = append(scopes, purge.Scope{Kind: purge.Group, Value: purge.GroupValue(host, g)})
		until = now.Add(purge.MarkHorizon)
	}
	if len(scopes) == 0 {
		return
	}
	if err := p.purger.Mark(ctx, scopes, until); err != nil {
		// Applied here and retried (purge.Redis); look again all the same.
		p.log.Error("invalidate after unsafe method", "route", f.x.route.Name, "err", err)
	}
	p.remarkStored(ctx, f, filling, until, now)
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
			scopes = append(scopes, inv.scope)
			longer = later(longer, inv.until)
		}
	}
	if len(scopes) == 0 {
		return
	}
	if err := p.purger.Mark(ctx, scopes, longer); err != nil {
		p.log.Error("invalidate after unsafe method, entry stored during the lookup", "route", f.x.route.Name, "err", err)
	}
}

// markSlack is added to a URL mark's lifetime for the clocks of other
// instances, which trim the mark, being behind this one's, and for a fill
// the moment between its flight's start and its own (fill.start).
const markSlack = time.Minute

// urlInvalidation is what an unsafe request marks for one URL: its scope,
// until when the mark is kept, and whether a fill of it was in flight
// (then the mark may be kept only fillStoreBound, see remarkStored).
type urlInvalidation struct {
	scope   purge.Scope
	until   time.Time
	filling bool
}

// invalidationUntil returns the URL scope of a GET of u (with the unsafe
// request's host and fields) and until when its mark must be kept, or
// false when nothing stored or being stored can be invalidated by it.
// Fills in flight are looked up only when fills is set.
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
	inv := urlInvalidation{scope: purge.URLScope(key)}
	forever := now.Add(purge.MarkHorizon)
	var fillUntil time.Time
	if fills {
		fillUntil = now.Add(fillStoreBound(cfg.OriginTimeouts) + markSlack)
	}
	found := false
	look := func(id string, filling func(context.Context, string) bool) (time.Time, bool, bool) {
		if fills && filling(ctx, id) {
			inv.filling = true
		}
		return p.storedUntil(ctx, rt, id)
	}
	for _, sch := range []string{"http", "https"} {
		k := rt.Key(get, sch)
		if purge.URLScope(k) != inv.scope {
			continue
		}
		t, ok, sure := look(k.ID(), p.collapse.Filling)
		if !sure {
			inv.until = forever
			return inv, true
		}
		if ok {
			found = true
			inv.until = later(inv.until, t)
		}
	}
	if rt.KeysRequestFields() {
		t, ok, sure := look(key.URLID(), p.collapse.FillingURL)
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
