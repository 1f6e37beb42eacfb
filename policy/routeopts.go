package policy

// Route modes.
const (
	// ModeRespect: the origin's Cache-Control and Expires decide freshness.
	ModeRespect = "respect"
	// ModeOverride: the route's TTL decides freshness.
	ModeOverride = "override"
)

// targetFields are the targeted cache-control fields the route obeys.
func (rt *Route) targetFields() []string { return DefaultTargets }

// storesSetCookie reports whether a response with Set-Cookie may be stored.
func (rt *Route) storesSetCookie() bool { return false }

// omittedSetCookie lists Set-Cookie when the route stores such responses
// without it.
func (rt *Route) omittedSetCookie() []string { return nil }
