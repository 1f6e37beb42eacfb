package collapse

import (
	"context"
	"time"

	"github.com/cachegate/cachegate/internal/redisx"
)

// urlFillRecord is how long a URL's record of fills in flight in Redis
// outlives the last fill that began: each fill removes itself from the
// record when it ends, so this bounds only what an instance that died
// mid-fill leaves behind (unsafe requests to that URL keep marking it for
// the proxy's fill bound meanwhile). It is longer than that bound with the
// default origin timeouts (2m5s: a fill past it does not store); a fill
// still running past it is no longer seen by the other instances.
const urlFillRecord = 5 * time.Minute

// BeginURL records that a fill of some key of the URL named by url (any
// string the caller derives from the URL alone) is starting, here and,
// with Redis, for every instance, until the returned end is called. It is
// for keys a URL cannot name (keyed request fields): an unsafe request to
// the URL asks FillingURL whether a fill it must invalidate is in flight.
// Every call is recorded, collapsed or not. A Redis error is logged and
// leaves the record to this process; Redis is not asked for a second
// after a failure, like the leases.
func (g *Group) BeginURL(ctx context.Context, url string) (end func()) {
	g.mu.Lock()
	g.urlFills[url]++
	g.mu.Unlock()
	local := func() {
		g.mu.Lock()
		if g.urlFills[url]--; g.urlFills[url] <= 0 {
			delete(g.urlFills, url)
		}
		g.mu.Unlock()
	}
	if g.client == nil || g.down.Recent(g.now()) {
		return local
	}
	lease, err := redisx.TakeShared(ctx, g.client, g.urlFillKey(url), max(urlFillRecord, g.leaseBound()))
	if err != nil {
		g.down.Note(err, g.now())
		g.log.Warn("collapse: recording a fill of a URL", "url", url, "err", err)
		return local
	}
	return func() {
		local()
		if err := lease.Release(context.WithoutCancel(ctx)); err != nil {
			g.log.Warn("collapse: ending a fill of a URL", "url", url, "err", err)
		}
	}
}

// FillingURL reports whether a fill begun with BeginURL(url) is in flight
// here or, with Redis, in any instance. A Redis error counts as filling:
// the caller cannot rule it out.
func (g *Group) FillingURL(ctx context.Context, url string) bool {
	g.mu.Lock()
	n := g.urlFills[url]
	g.mu.Unlock()
	if n > 0 {
		return true
	}
	if g.client == nil {
		return false
	}
	exists, err := g.client.Exists(ctx, g.urlFillKey(url)).Result()
	return err != nil || exists > 0
}

// urlFillKey is the Redis hash of the fills of url in flight, one field
// per fill.
func (g *Group) urlFillKey(url string) string { return g.urlFillsPrefix + "{" + url + "}" }
