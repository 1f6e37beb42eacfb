package policy

// Route modes.
const (
	// ModeRespect: the origin's Cache-Control and Expires decide freshness.
	ModeRespect = "respect"
	// ModeOverride: the route's TTL decides freshness.
	ModeOverride = "override"
)

// Route set_cookie values: what happens to a response with Set-Cookie.
const (
	// SetCookiePass: the response is not stored.
	SetCookiePass = "pass"
	// SetCookieStrip: the response is stored without its Set-Cookie; the
	// client whose request filled the entry still gets the cookie.
	SetCookieStrip = "strip"
	// SetCookieStore: the response is stored with its Set-Cookie, which
	// every client served from the entry then gets. Dangerous: only for
	// cookies that are the same for everyone.
	SetCookieStore = "store"
)

// targetFields are the targeted cache-control fields the route obeys, most
// specific first (cache.targeted_fields).
func (rt *Route) targetFields() []string {
	if rt.targets == nil {
		return DefaultTargets
	}
	return rt.targets
}

// storesSetCookie reports whether a response with Set-Cookie may be stored.
func (rt *Route) storesSetCookie() bool {
	return rt.SetCookie == SetCookieStrip || rt.SetCookie == SetCookieStore
}

// omittedSetCookie lists Set-Cookie when the route stores such responses
// without it.
func (rt *Route) omittedSetCookie() []string {
	if rt.SetCookie == SetCookieStrip {
		return []string{"Set-Cookie"}
	}
	return nil
}
