package policy

// WithoutRevalidation returns d without the directives by which a client
// makes the cache go to the origin or skip storing: no-cache (and Pragma:
// no-cache), no-store, max-age and min-fresh; and whether d had any of
// them. A route with request_directives: ignore answers as if they were
// absent (as Varnish and nginx do), so that no client can make every
// request reach the origin; max-stale and only-if-cached, which never
// cost the origin a request, still apply.
func (d RequestDirectives) WithoutRevalidation() (RequestDirectives, bool) {
	had := d.NoCache || d.NoStore || d.HasMaxAge || d.HasMinFresh
	d.NoCache, d.NoStore = false, false
	d.MaxAge, d.HasMaxAge = 0, false
	d.MinFresh, d.HasMinFresh = 0, false
	return d, had
}
