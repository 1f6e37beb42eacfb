package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/store"
)

// Found is what Lookup finds for a GET of a URL.
type Found struct {
	// Route is the route the request matches.
	Route *policy.Route
	// Cacheable is false when the request passes to the origin (a
	// bypassed route, a refused path): nothing was looked up.
	Cacheable bool
	// Key is the request's cache key (when Cacheable).
	Key policy.Key
	// Marker is the Vary marker stored under the key and MarkerID its
	// store key, when the stored response varies (RFC 9111 §4.1).
	Marker   *store.Entry
	MarkerID string
	// Entry is the stored entry the request selects and EntryID its store
	// key; Entry is nil when none is stored.
	Entry   *store.Entry
	EntryID string
	// Validity is what the purge marks say of Entry.
	Validity purge.Validity
}

// Lookup finds the stored entry a GET of the absolute URL u with the
// request header h would be served from, through the steps a request
// takes (normalize, route, key, Vary selection) and with the proxy's own
// store and purger, without asking the origin or counting a request. The
// error is a bad URL or a store failure; an entry not stored is no error.
func (p *Proxy) Lookup(ctx context.Context, u *url.URL, h http.Header) (Found, error) {
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "http" && scheme != "https") || u.Host == "" {
		return Found{}, fmt.Errorf("lookup %q: need an absolute http or https URL", u.Redacted())
	}
	target := &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	r := (&http.Request{Method: http.MethodGet, URL: target, Host: u.Host, Header: h.Clone()}).WithContext(ctx)
	if r.Header == nil {
		r.Header = http.Header{}
	}
	x := p.classify(r, scheme)
	f := Found{Route: x.route, Cacheable: x.cacheable}
	if !x.cacheable {
		return f, nil
	}
	f.Key = x.key
	marker, e, err := p.stored(ctx, x, r.Header)
	if marker != nil {
		f.Marker, f.MarkerID = marker, x.id
	}
	if errors.Is(err, store.ErrNotFound) || (err == nil && e == nil) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("lookup %s: %w", x.key.URL(), err)
	}
	f.Entry, f.EntryID = e, x.storeID()
	f.Validity = p.purger.Check(ctx, e)
	return f, nil
}
