package policy

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cachegate/cachegate/config"
)

// StoreDecision is what DecideStore says of a response: whether to store
// it and, if so, for how long and with which stale windows.
type StoreDecision struct {
	// Store is true when the response may be stored.
	Store bool
	// Reason names why not, for Cache-Status detail and logs.
	Reason string
	// Freshness is the freshness lifetime (RFC 9111 §4.2.1).
	Freshness time.Duration
	// StaleWhileRevalidate and StaleIfError are the stale windows after
	// Freshness (RFC 5861), the larger of the origin's and the route's.
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration
	// MustRevalidate forbids serving the response stale (RFC 9111 §4.2.4).
	MustRevalidate bool
	// RouteTTL is set when Freshness is the route's TTL (override mode, or
	// the heuristic), which the proxy may jitter; the origin's own
	// lifetimes are kept exact.
	RouteTTL bool
	// OmitHeaders are fields that must not be stored: those named by
	// private="…" and no-cache="…" (RFC 9111 §5.2.2.4, §5.2.2.7).
	OmitHeaders []string
	// ExplicitFreshness is set when the origin gave the response an
	// explicit lifetime (s-maxage, max-age or Expires, RFC 9111 §4.2.1),
	// whatever the route then made of it.
	ExplicitFreshness bool
}

// perRequestFields are response fields that name one request, not the
// resource: X-Request-Id, which an origin echoes (cachegate sends it one).
// Stored, it would be served on every hit as if each were that request.
var perRequestFields = []string{"X-Request-Id"}

// understoodStatus are the status codes whose caching requirements
// cachegate implements, for must-understand (RFC 9111 §5.2.2.3).
func understoodStatus(status int) bool {
	switch status {
	case 200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// HeuristicallyCacheable reports whether responses with status are
// cacheable by default, without explicit freshness (RFC 9110 §15.1).
// 206 is, but cachegate never stores a partial response as a whole.
func HeuristicallyCacheable(status int) bool {
	switch status {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// heuristicFraction and heuristicCap bound the freshness given from
// Last-Modified when the origin gave none (RFC 9111 §4.2.2): 10% of the
// time since the last modification, at most one day.
const (
	heuristicFraction = 10
	heuristicCap      = 24 * time.Hour
)

// DecideStore applies RFC 9111 §3 and §4.2.1 (and RFC 9213 targeted
// fields) to an origin response for req, under route rt. status and h are
// the response's; reqTime and respTime bracket the origin exchange.
//
// In mode override the route's TTL replaces the origin's freshness, but
// no-store, private, Authorization and Set-Cookie still keep a response out
// of the cache: overriding a TTL must never leak one user's response to
// another.
func DecideStore(rt *Route, req *http.Request, status int, h http.Header, reqTime, respTime time.Time) StoreDecision {
	d, targeted := targetedDirectives(h, rt.targetFields())
	if !targeted {
		d = ParseResponseDirectives(h.Values("Cache-Control"))
	}
	no := func(reason string) StoreDecision { return StoreDecision{Reason: reason} }
	switch {
	case status == http.StatusPartialContent:
		return no("partial") // §3.3: only a complete response is stored whole
	case status < 200 || status == http.StatusNotModified:
		return no("status")
	case d.MustUnderstand && !understoodStatus(status):
		return no("must-understand") // §5.2.2.3
	case d.NoStore && !(d.MustUnderstand && understoodStatus(status)):
		return no("no-store") // §5.2.2.5
	case d.Private:
		return no("private") // §5.2.2.7: a shared cache
	case req.Header.Get("Authorization") != "" && !(d.MustRevalidate || d.Public || d.HasSMaxAge):
		return no("authorization") // §3.5
	case len(h.Values("Set-Cookie")) > 0 && !rt.storesSetCookie():
		return no("set-cookie")
	case rt.deceptionExtension() != "" && !ContentTypeFits(rt.deceptionExtension(), h):
		return no("content-type-mismatch") // cache-deception armour (deception.go)
	}
	if _, star := VaryNames(h); star {
		return no("vary-star") // §4.1: Vary: * never matches
	}
	dec := StoreDecision{Store: true}
	_, hasExpires := h["Expires"]
	dec.ExplicitFreshness = d.HasSMaxAge || d.HasMaxAge || (hasExpires && !targeted)
	dec.OmitHeaders = append(dec.OmitHeaders, d.PrivateFields...)
	dec.OmitHeaders = append(dec.OmitHeaders, d.NoCacheFields...)
	dec.OmitHeaders = append(dec.OmitHeaders, rt.omittedSetCookie()...)
	dec.OmitHeaders = append(dec.OmitHeaders, perRequestFields...)

	if rt.Mode == config.ModeOverride {
		if !HeuristicallyCacheable(status) {
			return no("status")
		}
		dec.Freshness, dec.RouteTTL = time.Duration(rt.TTL), true
	} else {
		explicit := true
		expires := h["Expires"]
		date := dateOf(h, respTime)
		switch {
		case d.NoCache, d.InvalidFreshness:
			dec.Freshness = 0 // §5.2.2.4; §4.2.1 invalid freshness is stale
		case d.HasSMaxAge:
			dec.Freshness = d.SMaxAge // §5.2.2.10
		case d.HasMaxAge:
			dec.Freshness = d.MaxAge // §5.2.2.1
		case hasExpires && !targeted:
			dec.Freshness = expiresLifetime(expires, date) // §5.3
		default:
			explicit = false
		}
		if !explicit {
			if !HeuristicallyCacheable(status) && !d.Public {
				return no("status") // §3: no explicit freshness, not cacheable by default
			}
			dec.Freshness = heuristicFreshness(rt, h, date) // §4.2.2
			dec.RouteTTL = rt.TTL > 0
		}
		// §5.2.2.2, §5.2.2.8; s-maxage implies proxy-revalidate (§5.2.2.10).
		dec.MustRevalidate = d.NoCache || d.MustRevalidate || d.ProxyRevalidate || d.HasSMaxAge
	}
	if !dec.MustRevalidate {
		dec.StaleWhileRevalidate = max(d.StaleWhileRevalidate, time.Duration(rt.StaleWhileRevalidate))
		dec.StaleIfError = max(d.StaleIfError, time.Duration(rt.StaleIfError))
	}
	if dec.Freshness <= 0 && dec.StaleWhileRevalidate <= 0 && dec.StaleIfError <= 0 && !hasValidator(h) {
		return no("no-freshness") // never reusable: nothing to store
	}
	return dec
}

// DecideStorePost applies RFC 9110 §9.3.3 to a response to a POST: it is
// stored, as the response to a GET of the POST's target URI, only when its
// Content-Location names that URI (sameURI, RFC 9110 §8.7: the content is
// then a current representation of it), it is a 200, the origin gave it
// explicit freshness, and DecideStore would store it for a GET (so never
// with no-store, private, Set-Cookie under the default set_cookie: pass,
// or for a request with Authorization unless public, s-maxage or
// must-revalidate allow it, §3.5).
func DecideStorePost(rt *Route, req *http.Request, sameURI bool, status int, h http.Header, reqTime, respTime time.Time) StoreDecision {
	switch {
	case !sameURI:
		return StoreDecision{Reason: "post"}
	case status != http.StatusOK:
		return StoreDecision{Reason: "status"}
	}
	dec := DecideStore(rt, req, status, h, reqTime, respTime)
	if dec.Store && !dec.ExplicitFreshness {
		return StoreDecision{Reason: "no-freshness"} // §9.3.3: explicit freshness only
	}
	return dec
}

// hasValidator reports whether h carries ETag or Last-Modified.
func hasValidator(h http.Header) bool {
	return h.Get("Etag") != "" || h.Get("Last-Modified") != ""
}

// dateOf is the response's Date, or fallback (the receipt time) when it is
// absent or invalid (RFC 9110 §6.6.1).
func dateOf(h http.Header, fallback time.Time) time.Time {
	if t, ok := ParseHTTPDate(h.Get("Date")); ok {
		return t
	}
	return fallback
}

// expiresLifetime is Expires minus Date (RFC 9111 §4.2.1). An invalid
// Expires, such as "0", means already expired (§5.3), and so do several
// Expires values that disagree (§4.2.1).
func expiresLifetime(values []string, date time.Time) time.Duration {
	for _, v := range values[1:] {
		if v != values[0] {
			return 0
		}
	}
	t, ok := ParseHTTPDate(values[0])
	if !ok {
		return 0
	}
	return max(min(t.Sub(date), maxDelta), 0)
}

// heuristicFreshness is the lifetime of a response without explicit
// freshness (RFC 9111 §4.2.2): the route's TTL when set, else 10% of the
// time since Last-Modified, capped at a day, else zero.
func heuristicFreshness(rt *Route, h http.Header, date time.Time) time.Duration {
	if rt.TTL > 0 {
		return time.Duration(rt.TTL)
	}
	lm, ok := ParseHTTPDate(h.Get("Last-Modified"))
	if !ok || !lm.Before(date) {
		return 0
	}
	return min(date.Sub(lm)/heuristicFraction, heuristicCap).Truncate(time.Second)
}

// CurrentAge is the age of a stored response now (RFC 9111 §4.2.3), from
// its Age and Date fields and the times its request was sent and its
// response received.
func CurrentAge(h http.Header, requestTime, responseTime, now time.Time) time.Duration {
	apparentAge := max(responseTime.Sub(dateOf(h, responseTime)), 0)
	responseDelay := max(responseTime.Sub(requestTime), 0)
	correctedAgeValue := ageValue(h) + responseDelay
	correctedInitialAge := max(apparentAge, correctedAgeValue)
	residentTime := max(now.Sub(responseTime), 0)
	return correctedInitialAge + residentTime
}

// ageValue is the Age field in seconds (RFC 9111 §5.1). A list-based
// value (on one line or several) is read by its first member; a member
// that is not a non-negative integer (a sign, a fraction, a parameter) is
// invalid and the field is ignored, as §5.1 says; a value past 2^31
// seconds counts as 2^31 (§1.2.2).
func ageValue(h http.Header) time.Duration {
	values := h.Values("Age")
	if len(values) == 0 {
		return 0
	}
	first, _, _ := strings.Cut(values[0], ",")
	first = strings.Trim(first, " \t")
	if first == "" {
		return 0
	}
	n, err := strconv.ParseUint(first, 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return maxDelta
		}
		return 0
	}
	if n > uint64(maxDelta/time.Second) {
		return maxDelta
	}
	return time.Duration(n) * time.Second
}

// AgeHeader formats an age for the Age field: whole seconds (RFC 9111 §5.1).
func AgeHeader(age time.Duration) string {
	return strconv.FormatInt(int64(min(max(age, 0), maxDelta)/time.Second), 10)
}

// EntryFreshness is what the reuse rules need to know of a stored entry.
type EntryFreshness struct {
	Freshness            time.Duration
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration
	MustRevalidate       bool
}

// Reuse is what DecideReuse allows.
type Reuse int

const (
	// ReuseNone: the entry may not be served without validation.
	ReuseNone Reuse = iota
	// ReuseFresh: the entry is fresh and acceptable to the client.
	ReuseFresh
	// ReuseStale: the entry is stale but may be served (the client's
	// max-stale, or stale-while-revalidate); refresh it in the background.
	ReuseStale
)

// DecideReuse applies RFC 9111 §4.2.4 and §5.2.1 (and RFC 5861 §3) to an
// entry of the given age and the request's directives.
func DecideReuse(ef EntryFreshness, age time.Duration, rd RequestDirectives) Reuse {
	if rd.NoCache {
		return ReuseNone // §5.2.1.4
	}
	if rd.HasMaxAge && age > rd.MaxAge {
		return ReuseNone // §5.2.1.1
	}
	if rd.HasMinFresh && ef.Freshness-age < rd.MinFresh {
		return ReuseNone // §5.2.1.3
	}
	if age < ef.Freshness {
		return ReuseFresh
	}
	if ef.MustRevalidate {
		return ReuseNone // §4.2.4, §5.2.2.2
	}
	staleness := age - ef.Freshness
	if rd.HasMaxStale && (rd.AnyStale || staleness <= rd.MaxStale) {
		return ReuseStale // §5.2.1.2
	}
	if staleness < ef.StaleWhileRevalidate && !rd.HasMaxAge && !rd.HasMinFresh {
		return ReuseStale // RFC 5861 §3
	}
	return ReuseNone
}

// DecideReuseOnError reports whether the entry may be served when the
// origin failed to validate it: while fresh, or stale within stale-if-error
// (RFC 5861 §4) or the client's max-stale, never past must-revalidate
// (RFC 9111 §4.2.4).
func DecideReuseOnError(ef EntryFreshness, age time.Duration, rd RequestDirectives) bool {
	if age < ef.Freshness {
		return true
	}
	if ef.MustRevalidate {
		return false
	}
	staleness := age - ef.Freshness
	return staleness <= ef.StaleIfError || (rd.HasMaxStale && (rd.AnyStale || staleness <= rd.MaxStale))
}

// DecideReuseWhenUnreachable reports whether the entry may be served when
// the origin could not be reached at all: as DecideReuseOnError, and also
// stale within the route's window for a disconnected cache (RFC 9111
// §4.2.4: "unless it is disconnected"), but never past must-revalidate,
// proxy-revalidate, no-cache or s-maxage (§5.2.2.2, §5.2.2.4, §5.2.2.8,
// §5.2.2.10), which EntryFreshness.MustRevalidate carries.
func DecideReuseWhenUnreachable(ef EntryFreshness, age time.Duration, rd RequestDirectives, window time.Duration) bool {
	if DecideReuseOnError(ef, age, rd) {
		return true
	}
	return !ef.MustRevalidate && age-ef.Freshness <= window
}

// ErrorReuse is what DecideReuseAfterError allows.
type ErrorReuse int

const (
	// ErrorReuseNone: the entry may not be served; the client gets the
	// origin's error, or 502 or 504 when there was none.
	ErrorReuseNone ErrorReuse = iota
	// ErrorReuseStaleIfError: the entry is served, fresh or within
	// stale-if-error or the client's max-stale (DecideReuseOnError).
	ErrorReuseStaleIfError
	// ErrorReuseUnreachable: the entry is served stale within the route's
	// window for a disconnected cache (DecideReuseWhenUnreachable).
	ErrorReuseUnreachable
)

// DecideReuseAfterError applies RFC 5861 §4 and RFC 9111 §4.2.4 to an
// entry of the given age whose validation failed. When the origin
// answered with an error status (reached: a 5xx), the entry replaces
// that answer within stale-if-error; when it could not be reached at all
// (refused, reset, timed out), also within unreachable, the route's
// stale_if_unreachable, since the cache is then disconnected.
func DecideReuseAfterError(ef EntryFreshness, age time.Duration, rd RequestDirectives, reached bool, unreachable time.Duration) ErrorReuse {
	switch {
	case DecideReuseOnError(ef, age, rd):
		return ErrorReuseStaleIfError
	case !reached && DecideReuseWhenUnreachable(ef, age, rd, unreachable):
		return ErrorReuseUnreachable
	}
	return ErrorReuseNone
}

// SharesFill reports whether a request may lead a fill that other
// requests for its key wait for and are served from (collapsing). Not
// with no-store, whose response is not stored (RFC 9111 §5.2.1.5), nor
// with Authorization, whose response a shared cache may hand to others
// only when the response allows it (§3.5): such a request fetches alone,
// so that no client's credentialed response reaches another.
func SharesFill(rd RequestDirectives, h http.Header) bool {
	return !rd.NoStore && h.Get("Authorization") == ""
}
