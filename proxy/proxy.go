package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachegate/cachegate/accesslog"
	"github.com/cachegate/cachegate/collapse"
	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/metrics"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/proxy/upstream"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/store"
)

// Options are the parts of a Proxy that do not come from the config file.
type Options struct {
	// Store holds the entries. Required.
	Store store.Store
	// Logger receives errors and, at debug, one line per request. Default
	// slog.Default().
	Logger *slog.Logger
	// Transport, when set, reaches every upstream (tests). Default: each
	// backend's own (upstream.NewTransport), rebuilt by Reload.
	Transport http.RoundTripper
	// Purger says which stored entries purges invalidated. Default: an
	// in-process purge.Local.
	Purger purge.Purger
	// PURGE, when set, handles the PURGE method (admin.Purges.ServePURGE).
	PURGE http.HandlerFunc
	// Collapse collapses concurrent fills of one key. Default: in process.
	Collapse *collapse.Group
	// Metrics records requests, origin fetches, collapsing and refreshes.
	// Default nil: nothing is recorded.
	Metrics *metrics.Metrics
	// AccessLog receives a record of each request while access_log is
	// enabled. Default nil: none is written.
	AccessLog RecordWriter
	// Live receives a record of each request while anyone watches.
	// Default nil.
	Live *accesslog.Hub
}

// RecordWriter takes the access log's records without waiting
// (accesslog.Log).
type RecordWriter interface {
	Write(*accesslog.Record)
}

// Proxy is the caching reverse proxy: an http.Handler for the proxy listener.
type Proxy struct {
	store    store.Store
	purger   purge.Purger
	purgeM   http.HandlerFunc
	collapse *collapse.Group
	metrics  *metrics.Metrics
	log      *slog.Logger
	// accessLog, live and ids are the access log, the live stream and the
	// request IDs (record.go).
	accessLog RecordWriter
	live      *accesslog.Hub
	ids       *accesslog.IDs
	origin    *httputil.ReverseProxy
	state     atomic.Pointer[state]
	// upstreams are the options of the backends Reload builds.
	upstreams upstream.Options
	// reload is closed, and replaced, by every Reload (reloaded).
	reload atomic.Pointer[chan struct{}]
	now    func() time.Time

	// background owns the refreshes that outlive their request.
	background context.Context
	stop       context.CancelFunc
	refreshes  sync.WaitGroup
	// refreshing holds the store keys being refreshed in this process.
	refreshing sync.Map
}

// state is what one config yields; it is swapped whole on reload so that a
// request in flight keeps the config it started with.
type state struct {
	cfg *policy.Rules
	// backends are the config's backends, built (and their probes started)
	// by Reload, closed by the next Reload or Close.
	backends *upstream.Set
	// internal are the response fields stripped before responses leave.
	internal []string
	// via11 is this cache's Via member for HTTP/1.1.
	via11 string
}

// New returns a Proxy serving cfg.
func New(cfg *policy.Rules, opts Options) (*Proxy, error) {
	if opts.Store == nil {
		return nil, errors.New("proxy: no store")
	}
	p := &Proxy{store: opts.Store, purger: opts.Purger, purgeM: opts.PURGE, metrics: opts.Metrics, log: opts.Logger, now: time.Now,
		accessLog: opts.AccessLog, live: opts.Live, ids: accesslog.NewIDs()}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.purger == nil {
		p.purger = purge.NewLocal()
	}
	p.collapse = opts.Collapse
	if p.collapse == nil {
		cc := cfg.Cache.Collapse
		p.collapse = collapse.New(nil, "", collapse.Options{Wait: cc.Wait.D(), HitForPass: cc.HitForPass.D()}, p.log)
	}
	p.background, p.stop = context.WithCancel(context.Background())
	p.upstreams = upstream.Options{Transport: opts.Transport, Metrics: p.metrics, Logger: p.log, Now: func() time.Time { return p.now() }}
	if err := p.Reload(cfg); err != nil {
		return nil, err
	}
	p.origin = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      roundTripperFunc(p.roundTrip),
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.originError,
		ErrorLog:       slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
	return p, nil
}

// Reload makes cfg the config of every request that starts after it,
// backends, origin_timeouts and cache.collapse included: fills that start
// after it use the new backends (new transports and probes; an upstream
// kept keeps its health; the old backends' idle connections are closed,
// requests on them finish) and the collapsing group's new bounds.
func (p *Proxy) Reload(cfg *policy.Rules) error {
	backends, err := upstream.New(cfg.Config, p.upstreams)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	var prevBackends *upstream.Set
	if prev := p.state.Load(); prev != nil {
		prevBackends = prev.backends
	}
	backends.Start(prevBackends) // closes the previous ones
	p.state.Store(&state{cfg: cfg, backends: backends, internal: internalFields(cfg), via11: "1.1 " + cfg.Cache.Name})
	cc := cfg.Cache.Collapse
	p.collapse.SetBounds(cc.Wait.D(), cc.HitForPass.D())
	if bounded, ok := p.purger.(interface{ SetPatternLimit(int) }); ok {
		bounded.SetPatternLimit(cfg.Cache.MaxPatternPurges)
	}
	next := make(chan struct{})
	if prev := p.reload.Swap(&next); prev != nil {
		close(*prev)
	}
	return nil
}

// Backends returns the health of the current config's backends, for
// /readyz.
func (p *Proxy) Backends() []upstream.Status { return p.state.Load().backends.Status() }

// reloaded returns a channel closed at the next Reload.
func (p *Proxy) reloaded() <-chan struct{} { return *p.reload.Load() }

// roundTripperFunc is a function as an http.RoundTripper.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// exchange carries one client request through the lifecycle.
type exchange struct {
	st        *state
	route     *policy.Route
	start     time.Time
	rd        policy.RequestDirectives
	key       policy.Key
	id        string // store key of the primary entry
	vary      []string
	variantID string // store key of the variant, when the primary is a Vary marker
	status    policy.CacheStatus
	// cacheable is false for requests that pass to the origin untouched.
	cacheable bool
	// softPurged is set when a soft purge made the entry stale.
	softPurged bool
	// originTime is how long the origin took, when it was asked.
	originTime time.Duration
	// ignoredDirectives is set when the route ignored the request's
	// no-cache, no-store, max-age or min-fresh (request_directives).
	ignoredDirectives bool
	// target is the request's normalized target (classify).
	target policy.Target
	// badTarget is set when the target is refused with 400 (classify).
	badTarget bool
	// client bounds the writes to the client (client_timeouts.write).
	client clientWriter
	// ctx is the request's context without the client's cancellation
	// (requestContext).
	ctx detached
	// part is a stored part that does not hold what the request asks
	// (lookup); the fill may complete it (completable).
	part *store.Entry
	// requestID is the request's X-Request-Id (setRequestID); idBytes
	// holds a new one and idField the header's value.
	requestID string
	idBytes   [accesslog.IDLen]byte
	idField   [1]string
	// upstream is the host:port of the upstream that answered, when the
	// origin was asked.
	upstream string
	// logged is set when the request is recorded (access log or live
	// stream); referer and userAgent are then the client's, read before
	// the route's request shaping could drop them.
	logged             bool
	referer, userAgent string
	// lookedUp is what the hit lane read from the store for this request
	// before it handed it to net/http (storedOnce).
	lookedUp *lookedUp
	// hitFields backs the Age, Cache-Status and Via values deliver adds
	// (with one Via of the origin's), so that a hit does not allocate
	// them.
	hitFields [4]string
}

// detached is a context without its parent's cancellation and deadline:
// context.WithoutCancel without the allocation, kept in the exchange
// because every hit needs it.
type detached struct{ context.Context }

func (detached) Deadline() (time.Time, bool) { return time.Time{}, false }
func (detached) Done() <-chan struct{}       { return nil }
func (detached) Err() error                  { return nil }

// requestContext is the context of the store, purge and collapse calls
// made for r. It does not end when the client's side of the connection
// closes: a client may half-close once its request is sent (RFC 9112
// §9.6), and its lookups must not fail and send it to the origin (a cache
// bypass anyone could use). The store's own timeouts bound the calls.
func (x *exchange) requestContext(r *http.Request) context.Context {
	if x.ctx.Context == nil {
		return r.Context()
	}
	return &x.ctx
}

// storeID is the store key of the entry the exchange reads and fills.
func (x *exchange) storeID() string {
	if x.variantID != "" {
		return x.variantID
	}
	return x.id
}

// closingFraming reports whether the connection r came on must be closed
// after its response: an HTTP/1.x request with a Transfer-Encoding. RFC
// 9112 §6.3: a request that carries both Transfer-Encoding and
// Content-Length "might indicate an attempt to perform request smuggling";
// the server "MUST close the connection after responding to such a
// request". net/http takes such a request by its Transfer-Encoding and
// deletes the Content-Length before a handler sees it, and keeps the
// connection open, so that what a front proxy counting the Content-Length
// took for one request could be read here as two. Since the two cannot be
// told apart after net/http's parse, every request with a
// Transfer-Encoding closes its connection: a client that streams request
// bodies opens a connection per such request.
func closingFraming(r *http.Request) bool {
	return r.ProtoMajor == 1 && len(r.TransferEncoding) > 0
}

// ServeHTTP runs the lifecycle: classify, key, lookup, decide, then
// deliver from the cache or fetch from the origin.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.serve(w, r, nil) }

// serve is ServeHTTP. On the hit lane (hitlane.go), lane is the
// connection: serve then answers r only from a stored entry it may serve
// (fresh, or stale within its window) and reports whether it did.
// Otherwise it has written nothing and changed nothing but r and what it
// leaves on lane for ServeHTTP (lookedUp), and the lane hands the request,
// read again from its bytes, to net/http and ServeHTTP.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, lane *wireConn) bool {
	hitsOnly := lane != nil
	p.metrics.InFlight(1)
	defer p.metrics.InFlight(-1)
	if hitsOnly && requestHeaderBytes(r) > int(p.state.Load().cfg.ClientLimits.MaxHeaderBytes) {
		return false // refused by admit, through net/http
	}
	if closingFraming(r) {
		// Every answer, whichever path writes it, says so: net/http then
		// closes the connection after it.
		w.Header().Set("Connection", "close")
	}
	if status := p.admit(w, r); status != 0 {
		p.recordRefusal(r, status)
		return true
	}
	if r.Method == "PURGE" && p.purgeM != nil {
		p.purgeM(w, r)
		return true
	}
	x := p.classify(r, scheme(r))
	if !hitsOnly {
		x.lookedUp = takeLookedUp(r)
	}
	x.ctx.Context = r.Context()
	p.sendRequestID(r, x)
	var e *store.Entry
	verdict, age := fetchFromOrigin, time.Duration(0)
	if x.cacheable {
		e = p.lookup(r, x, lane)
		verdict, age = p.decide(x, e)
	}
	if hitsOnly {
		if verdict != serveFresh && verdict != serveStale {
			return false // with its lookup left on lane
		}
		lane.lookedUp = lookedUp{} // nothing pinned while the connection idles
	}
	x.client.init(w, x.st.cfg.ClientTimeouts.Write.D(), x.start, p.now, p.log)
	w = &x.client
	var counted *countingWriter
	if x.logged {
		counted = &countingWriter{ResponseWriter: w}
		w = counted
	}
	defer p.record(r, x, counted)
	switch {
	case x.badTarget:
		p.refuseTarget(w, x)
		return true
	case !x.cacheable:
		p.fetchAlone(w, r, x, nil)
		return true
	}
	switch verdict {
	case serveFresh:
		x.status.Hit = true
		switch {
		case e.RedisDown:
			x.status.Detail = detailRedisDown
		case x.ignoredDirectives:
			x.status.Detail = "request-directives-ignored"
		}
		p.deliver(w, r, x, e, age)
		if p.refreshEarly(x, e, age) {
			p.refresh(r, x, e, metrics.RefreshEarly)
		}
	case serveStale:
		x.status.Hit = true
		x.status.Detail = "stale-while-revalidate"
		if x.softPurged {
			x.status.Detail = "soft-purged"
		}
		p.deliver(w, r, x, e, age)
		p.refresh(r, x, e, metrics.RefreshBackground)
	case onlyIfCached:
		x.status.Detail = "only-if-cached"
		p.deliverGatewayTimeout(w, x)
	default:
		if e != nil && e.Status == http.StatusPartialContent {
			// A part is not revalidated for a client: the origin is asked
			// for the client's range afresh (a 304 would leave the client a
			// part other than the range it asked for).
			e = nil
		}
		p.fetchCollapsed(w, r, x, e)
	}
	return true
}

// detailRedisDown is the Cache-Status detail (RFC 9211 §2.8) of a hit the
// tiered store's L1 served while Redis was unreachable, that is without
// the purges Redis could have told of (none could be acknowledged).
const detailRedisDown = "redis-down"

// fetchCollapsed fetches from the origin unless another request for the
// same key, here or in another instance, already is: then it waits for
// that fill and serves what it stored (or, when the fill ran here, what the
// store failed to take: collapse.Unstored), or fetches for itself when
// nothing reusable was stored. A request that leads the fill serves what another
// fill stored since its lookup, if anything (storedMeanwhile).
func (p *Proxy) fetchCollapsed(w http.ResponseWriter, r *http.Request, x *exchange, e *store.Entry) {
	if !x.cacheable || !policy.SharesFill(x.rd, r.Header) {
		p.fetchAlone(w, r, x, e)
		return
	}
	led := false
	out, value, _ := p.collapse.Do(x.requestContext(r), x.storeID(), func(settle collapse.Settle) (collapse.Outcome, any) {
		if s := p.storedMeanwhile(r, x); s != nil {
			return collapse.Stored, s
		}
		led = true
		f := &fill{x: x, client: r, stale: e, settle: settle}
		p.runFill(w, r, f)
		return f.outcome(), f.shared
	}, func() any {
		// The fill ran in another instance: read what it stored, once for
		// the waiters of this process.
		lx := *x
		if e := p.lookup(r, &lx, nil); e != nil {
			return newSharedEntry(e, r.Header)
		}
		return nil
	})
	if led {
		return
	}
	if out == collapse.Stored || out == collapse.Unstored {
		fwd := "miss"
		if x.status.Fwd == "request" {
			fwd = "request" // it asked to revalidate; the fill it waited for did
		}
		x.status = policy.CacheStatus{Name: x.st.cfg.Cache.Name}
		x.softPurged, x.part = false, nil
		stored := p.collapsedEntry(r, x, value)
		if stored == nil && out == collapse.Stored {
			// Another variant, or the fill ran in another instance: what
			// was not stored cannot be looked up.
			stored = p.lookup(r, x, nil)
		}
		if stored != nil {
			// The fill this request waited for asked the origin while the
			// request was being served: that is the validation its
			// no-cache or max-age asked for (RFC 9111 §5.2.1.1, §5.2.1.4),
			// so concurrent revalidations of one key cost the origin one
			// request at a time.
			x.rd, _ = x.rd.WithoutRevalidation()
			if v, age := p.decide(x, stored); v == serveFresh {
				x.status.Fwd = fwd
				x.status.Collapsed = true
				if out == collapse.Unstored {
					x.status.Detail = detailStoreError
				}
				p.metrics.Collapsed(x.route.Name)
				p.deliver(w, r, x, stored, age)
				return
			}
		}
	} else if out == collapse.Uncacheable {
		x.status.Detail = hitForPass
	}
	p.fetchAlone(w, r, x, e)
}

// storedMeanwhile is the entry another fill stored for x's key, fresh for
// r, after r's lookup missed it and before r took the lead of the key's
// fill; nil when there is none, and r fills. A request that was slow
// between its lookup and collapse.Do finds neither the flight of a fill
// that ended here in between nor the lease of one that ended in another
// instance (both are gone once the entry is stored): without this second
// read, under the lead, it would ask the origin again for what was just
// stored. It costs the leader of a fill one store read.
func (p *Proxy) storedMeanwhile(r *http.Request, x *exchange) *sharedEntry {
	lx := *x
	e := p.lookup(r, &lx, nil)
	if e == nil {
		return nil
	}
	if v, _ := p.decide(&lx, e); v != serveFresh {
		return nil
	}
	return newSharedEntry(e, r.Header)
}

// sharedEntry is what a fill stored, or what the store failed to take
// (collapse.Unstored), handed to the requests that waited for it in this
// process (the collapsed flight's value): the entry and the
// Vary key of the request that filled it, so that a waiter selecting
// another variant does not get it.
type sharedEntry struct {
	entry   *store.Entry
	varyKey string
}

// newSharedEntry is entry e as stored for a request with header h.
func newSharedEntry(e *store.Entry, h http.Header) *sharedEntry {
	return &sharedEntry{entry: e, varyKey: policy.VaryKey(e.Vary, h)}
}

// collapsedEntry is the entry a collapsed fill stored (or failed to
// store), if it suits r (same variant, a part holding r's ranges, not
// purged since), else nil: then r looks it up itself, or fetches.
func (p *Proxy) collapsedEntry(r *http.Request, x *exchange, value any) *store.Entry {
	s, ok := value.(*sharedEntry)
	if !ok || s == nil {
		return nil
	}
	if len(s.entry.Vary) > 0 && policy.VaryKey(s.entry.Vary, r.Header) != s.varyKey {
		return nil
	}
	if s.entry.Status == http.StatusPartialContent && !policy.PartServes(r, s.entry.Header) {
		return nil // a Range miss filled a part that does not hold r's ranges
	}
	if p.purger.Check(x.requestContext(r), s.entry) != purge.Valid {
		return nil
	}
	return s.entry
}

// classify makes the request what the origin will receive, finds the
// route and decides whether the request may use the cache at all. Methods
// other than GET and HEAD, upgrades and bypassed routes pass to the origin
// (RFC 9111 §2: only GET responses are cached here, HEAD is answered from
// them, and a POST's response is stored only for GETs, storePost). r was
// received over scheme.
func (p *Proxy) classify(r *http.Request, scheme string) *exchange {
	st := p.state.Load()
	x := &exchange{st: st, start: p.now()}
	x.status = policy.CacheStatus{Name: st.cfg.Cache.Name}
	if x.logged = p.recording(st); x.logged {
		x.referer, x.userAgent = r.Header.Get("Referer"), r.Header.Get("User-Agent")
	}
	p.setRequestID(st, r, x)
	p.normalize(st, r, scheme, x)
	x.route = st.cfg.Route(r)
	x.route.DropRequestFields(r.Header)
	x.route.SetRequestFields(r.Header)
	switch {
	case x.badTarget:
		x.status.Fwd = "request"
		x.status.Detail = "ambiguous-path"
		return x
	case x.route.Bypass:
		x.status.Fwd = "bypass"
		x.status.Detail = "route"
		return x
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		x.status.Fwd = "method"
		return x
	case r.Header.Get("Upgrade") != "":
		x.status.Fwd = "bypass"
		x.status.Detail = "upgrade"
		return x
	case r.Header.Get("If-Match") != "" || r.Header.Get("If-Unmodified-Since") != "":
		// Preconditions meant for the origin (RFC 9111 §4.3.2).
		x.status.Fwd = "request"
		x.status.Detail = "precondition"
		return x
	}
	x.cacheable = true
	x.route.AllowRequestFields(r.Header)
	x.route.KeepRequestCookies(r.Header)
	x.rd = policy.ParseRequestDirectives(r.Header)
	if x.route.RequestDirectives != config.RequestDirectivesHonour {
		x.rd, x.ignoredDirectives = x.rd.WithoutRevalidation()
	}
	x.key = x.route.KeyOf(x.target, r.Header)
	x.id = x.key.ID()
	// The origin is asked for exactly what is stored under the key.
	r.URL.RawQuery = x.route.ForwardedQuery(x.target, x.key)
	return x
}

// normalize makes r, in place, the request the origin will receive, before
// anything reads it, so that the route, the key, the Vary selection and
// the origin see the same fields and the same target: hop-by-hop and
// Connection-listed fields removed (RFC 9110 §7.6.1), the forwarding family
// replaced by cachegate's own (policy.SetForwarding), and the host and path
// normalized (policy.NewTarget).
func (p *Proxy) normalize(st *state, r *http.Request, scheme string, x *exchange) {
	policy.RemoveHopByHop(r.Header)
	sch := st.cfg.SetForwarding(r, peer(r), scheme)
	x.target = policy.NewTarget(r, sch)
	x.badTarget = x.target.Ambiguous()
	r.Host = x.target.Host
	if r.URL == nil {
		r.URL = &url.URL{}
	}
	r.URL.RawPath = x.target.Path
	if path, err := url.PathUnescape(x.target.Path); err == nil {
		r.URL.Path = path
	}
}

// refuseTarget answers 400 to a request whose path is ambiguous
// (policy.Target.Ambiguous).
func (p *Proxy) refuseTarget(w http.ResponseWriter, x *exchange) {
	shapeOwnAnswer(w, x)
	w.Header().Set("Cache-Status", x.status.String())
	http.Error(w, "bad request: the path hides a dot segment behind an encoded / or \\, or a ;", http.StatusBadRequest)
}

// peer is the address of the client's connection, or the zero Addr.
func peer(r *http.Request) netip.Addr { return policy.PeerAddr(r) }

// lookup returns the stored entry for the request, following a Vary
// marker to the variant the request selects (RFC 9111 §4.1). A store error
// is logged and treated as a miss: the origin still answers.
func (p *Proxy) lookup(r *http.Request, x *exchange, lane *wireConn) *store.Entry {
	ctx := x.requestContext(r)
	marker, e, err := p.storedOnce(ctx, r, x, lane)
	if e == nil || err != nil {
		x.status.Fwd = "uri-miss"
		if marker != nil {
			x.status.Fwd = "vary-miss"
		}
		return nil
	}
	switch p.purger.Check(ctx, e) {
	case purge.Purged:
		x.status.Fwd, x.status.Detail = "miss", "purged"
		return nil
	case purge.SoftPurged:
		x.softPurged = true
	}
	if e.Status == http.StatusPartialContent && !policy.PartServes(r, e.Header) {
		x.status.Fwd = "partial" // RFC 9211 §2.2: the part held does not suffice
		x.part = e
		return nil
	}
	return e
}

// lookedUp is what the hit lane read from the store for a request it then
// handed to net/http: ServeHTTP uses it rather than read the store again
// for the same request (storedOnce).
type lookedUp struct {
	ok            bool
	id, variantID string
	vary          []string
	marker, e     *store.Entry
	err           error
}

// storedOnce is stored, read once per request: on the hit lane the read is
// left on the connection, and net/http's ServeHTTP of the same request
// (the first on the connection it takes over, of the same store key) takes
// it from there. A second read would double the store's work for every
// connection's first miss (a burst of new connections asking for one cold
// key asked Redis twice as often) and count twice towards the tiered
// store's L1 admission.
func (p *Proxy) storedOnce(ctx context.Context, r *http.Request, x *exchange, lane *wireConn) (marker, e *store.Entry, err error) {
	if lk := x.lookedUp; lk != nil {
		x.lookedUp = nil
		if lk.id == x.id {
			x.vary, x.variantID = lk.vary, lk.variantID
			return lk.marker, lk.e, lk.err
		}
	}
	marker, e, err = p.stored(ctx, x, r.Header)
	if lane != nil {
		lane.lookedUp = lookedUp{ok: true, id: x.id, variantID: x.variantID, vary: x.vary, marker: marker, e: e, err: err}
	}
	return marker, e, err
}

// takeLookedUp takes what the hit lane left on r's connection, if
// anything: only the first request net/http reads there may use it.
func takeLookedUp(r *http.Request) *lookedUp {
	c := heldConn(r)
	if c == nil || !c.lookedUp.ok {
		return nil
	}
	lk := c.lookedUp
	c.lookedUp = lookedUp{}
	return &lk
}

// stored reads what is stored under x's key: the entry, following a Vary
// marker to the variant the request header h selects (RFC 9111 §4.1), and
// the marker it followed, if any. A variant that is itself a marker is not
// an entry.
func (p *Proxy) stored(ctx context.Context, x *exchange, h http.Header) (marker, e *store.Entry, err error) {
	e, err = p.get(ctx, x, x.id)
	if e == nil || err != nil || !e.IsMarker() {
		return nil, e, err
	}
	marker = e
	x.vary = e.Vary
	x.variantID = x.key.VariantID(policy.VaryKey(e.Vary, h))
	e, err = p.get(ctx, x, x.variantID)
	if err == nil && e != nil && e.IsMarker() {
		e, err = nil, store.ErrNotFound
	}
	return marker, e, err
}

func (p *Proxy) get(ctx context.Context, x *exchange, id string) (*store.Entry, error) {
	e, err := p.store.Get(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		p.log.Error("store get", "key", x.key.String(), "route", x.route.Name, "err", err)
	}
	return e, err
}

// verdict is what decide says to do with a request.
type verdict int

const (
	fetchFromOrigin verdict = iota
	serveFresh
	serveStale
	onlyIfCached
)

// decide applies RFC 9111 §4 to the stored entry and the request's
// directives.
func (p *Proxy) decide(x *exchange, e *store.Entry) (verdict, time.Duration) {
	if e == nil {
		if x.rd.OnlyIfCached {
			return onlyIfCached, 0
		}
		return fetchFromOrigin, 0
	}
	age := policy.CurrentAge(e.Header, e.RequestTime, e.ResponseTime, x.start)
	ef := entryFreshness(e)
	x.status.TTL, x.status.HasTTL = ef.TTL(age), true
	if x.softPurged {
		// A soft purge makes the entry stale now, servable while one
		// refresh runs (its staleness is then its age, within the window),
		// unless it may never be served stale.
		ef = policy.SoftPurged(ef, age)
		x.status.TTL = 0
	}
	switch policy.DecideReuse(ef, age, x.rd) {
	case policy.ReuseFresh:
		return serveFresh, age
	case policy.ReuseStale:
		return serveStale, age
	}
	if x.rd.OnlyIfCached {
		return onlyIfCached, 0
	}
	if x.rd.NoCache {
		x.status.Fwd = "request"
	} else {
		x.status.Fwd = "stale"
	}
	return fetchFromOrigin, age
}

// refreshEarly decides whether a fresh entry is refreshed before it
// expires (policy.DecideRefreshEarly, with the route's beta and the time
// its fill took), so that a key requested continuously is refreshed in
// the background and no request waits on the origin.
func (p *Proxy) refreshEarly(x *exchange, e *store.Entry, age time.Duration) bool {
	return policy.DecideRefreshEarly(x.route.EarlyRefreshBeta, e.ResponseTime.Sub(e.RequestTime), entryFreshness(e).TTL(age), 1-rand.Float64())
}

// entryFreshness is what policy needs to know of a stored entry.
func entryFreshness(e *store.Entry) policy.EntryFreshness {
	return policy.EntryFreshness{
		Freshness:            e.Freshness,
		StaleWhileRevalidate: e.StaleWhileRevalidate,
		StaleIfError:         e.StaleIfError,
		MustRevalidate:       e.MustRevalidate,
	}
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
