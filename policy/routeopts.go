package policy

import "github.com/cachegate/cachegate/config"

// targetFields are the targeted cache-control fields the route obeys, most
// specific first (cache.targeted_fields).
func (rt *Route) targetFields() []string {
	if rt.targets == nil {
		return config.DefaultTargets
	}
	return rt.targets
}

// storesSetCookie reports whether a response with Set-Cookie may be stored.
func (rt *Route) storesSetCookie() bool {
	return rt.SetCookie == config.SetCookieStrip || rt.SetCookie == config.SetCookieStore
}

// omittedSetCookie lists Set-Cookie when the route stores such responses
// without it.
func (rt *Route) omittedSetCookie() []string {
	if rt.SetCookie == config.SetCookieStrip {
		return []string{"Set-Cookie"}
	}
	return nil
}
