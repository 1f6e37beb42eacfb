package proxy

import (
	"context"
	"net/http"
	"time"

	"github.com/cachegate/cachegate/collapse"
	"github.com/cachegate/cachegate/metrics"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/store"
)

// refreshTimeout bounds a background refresh.
const refreshTimeout = time.Minute

// refresh revalidates a stale entry that was just served, in the
// background and once per key in this process (RFC 5861 §3): a
// conditional request to the origin; a 304 refreshes the metadata, a 200
// replaces the entry, and a 5xx or an error leaves the stale copy alone.
func (p *Proxy) refresh(r *http.Request, x *exchange, e *store.Entry, kind string) {
	id := x.storeID()
	if _, busy := p.refreshing.LoadOrStore(id, struct{}{}); busy {
		return
	}
	bx := &exchange{
		st: x.st, route: x.route, start: p.now(), key: x.key, id: x.id,
		vary: x.vary, variantID: x.variantID, cacheable: true,
		status: policy.CacheStatus{Name: x.st.cfg.Cache.Name, Fwd: "stale"},
	}
	ctx, cancel := context.WithTimeout(p.background, refreshTimeout)
	req := r.Clone(ctx)
	req.Method, req.Body, req.ContentLength = http.MethodGet, http.NoBody, 0
	// The client's own directives do not apply to the refresh.
	req.Header.Del("Cache-Control")
	req.Header.Del("Pragma")
	p.refreshes.Add(1)
	go func() {
		defer p.refreshes.Done()
		defer p.refreshing.Delete(id)
		defer cancel()
		result := metrics.RefreshSkipped // another refresh or fill replaced it
		defer func() { p.metrics.Refresh(kind, result) }()
		if p.replaced(ctx, id, e) {
			return
		}
		// Collapsed with the other instances: when one of them refreshes
		// the key, this one waits for it and does nothing more.
		p.collapse.Do(ctx, id, func(settle collapse.Settle) (collapse.Outcome, any) {
			f := &fill{x: bx, client: req, stale: e, background: true, settle: settle}
			p.runFill(discard{h: http.Header{}}, req, f)
			switch {
			case f.stored.Load() && bx.status.FwdStatus == http.StatusNotModified:
				result = metrics.RefreshRevalidated
			case f.stored.Load():
				result = metrics.RefreshRefreshed
			default:
				result = metrics.RefreshFailed
			}
			return f.outcome(), f.shared
		}, nil)
	}()
}

// replaced reports whether the store already holds a newer response under
// id than the stale e this request served. A request that read e just
// before another refresh stored its replacement reaches refresh only after
// that refresh left refreshing: without this check it would ask the origin
// a second time for what was just refreshed.
func (p *Proxy) replaced(ctx context.Context, id string, e *store.Entry) bool {
	cur, err := p.store.Get(ctx, id)
	return err == nil && cur != nil && cur.ResponseTime.After(e.ResponseTime)
}

// Close stops the background refreshes and waits for them.
func (p *Proxy) Close() {
	p.stop()
	p.refreshes.Wait()
	p.state.Load().backends.Close()
}

// discard is the ResponseWriter of a background refresh: nobody reads it.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
