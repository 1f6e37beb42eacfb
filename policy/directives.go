package policy

import (
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/pquerna/cachecontrol/cacheobject"
)

// maxDelta is the greatest delta-seconds value a cache must represent
// (RFC 9111 §1.2.2): larger values and overflows become 2^31 seconds.
const maxDelta = 2147483648 * time.Second

// ResponseDirectives are the response Cache-Control directives a shared
// cache acts on (RFC 9111 §5.2.2, RFC 5861), with durations already
// converted. A directive given twice keeps its first value (§4.2.1).
type ResponseDirectives struct {
	MaxAge, SMaxAge                    time.Duration
	HasMaxAge, HasSMaxAge              bool
	StaleWhileRevalidate, StaleIfError time.Duration
	// InvalidFreshness is set when max-age or s-maxage was present but
	// unparseable: the response is then treated as stale (§4.2.1).
	InvalidFreshness bool
	NoStore          bool
	NoCache          bool
	// NoCacheFields and PrivateFields are the field names given to
	// no-cache and private (§5.2.2.4, §5.2.2.7); empty when unqualified.
	NoCacheFields   []string
	Private         bool
	PrivateFields   []string
	Public          bool
	MustRevalidate  bool
	ProxyRevalidate bool
	MustUnderstand  bool
}

// ParseResponseDirectives parses every Cache-Control line of h. Each
// directive is parsed on its own with pquerna/cachecontrol, so that one
// malformed directive (a bare max-age, say) does not hide the others: a
// cache must ignore what it does not understand (§5.2.3).
func ParseResponseDirectives(values []string) ResponseDirectives {
	var d ResponseDirectives
	eachDirective(values, func(name, member string, first bool) {
		cd, err := cacheobject.ParseResponseCacheControl(member)
		if err == nil {
			d.merge(name, first, cd)
			return
		}
		// A malformed directive: the restrictive reading.
		switch name {
		case "max-age", "s-maxage":
			d.InvalidFreshness = d.InvalidFreshness || first
		case "no-cache":
			d.NoCache = true
		case "private":
			d.Private = true
		case "no-store":
			d.NoStore = true
		case "must-revalidate":
			d.MustRevalidate = true
		case "proxy-revalidate":
			d.ProxyRevalidate = true
		}
	})
	return d
}

// eachDirective calls f for every member of the Cache-Control lines, with
// its lower-cased name, the member as written, and whether it is the
// first occurrence of that name (RFC 9111 §4.2.1: the first one counts).
func eachDirective(values []string, f func(name, member string, first bool)) {
	seen := map[string]bool{}
	for _, line := range values {
		for _, member := range splitDirectives(line) {
			name := strings.ToLower(member)
			if i := strings.IndexByte(name, '='); i >= 0 {
				name = strings.TrimSpace(name[:i])
			}
			f(name, member, !seen[name])
			seen[name] = true
		}
	}
}

func (d *ResponseDirectives) merge(name string, first bool, cd *cacheobject.ResponseCacheDirectives) {
	switch name {
	case "max-age":
		if first {
			d.MaxAge, d.HasMaxAge = delta(cd.MaxAge), true
		}
	case "s-maxage":
		if first {
			d.SMaxAge, d.HasSMaxAge = delta(cd.SMaxAge), true
		}
	case "stale-while-revalidate":
		if first {
			d.StaleWhileRevalidate = delta(cd.StaleWhileRevalidate)
		}
	case "stale-if-error":
		if first {
			d.StaleIfError = delta(cd.StaleIfError)
		}
	case "no-store":
		d.NoStore = true
	case "no-cache":
		if len(cd.NoCache) == 0 {
			d.NoCache = true
		}
		for f := range cd.NoCache {
			if f != "" {
				d.NoCacheFields = append(d.NoCacheFields, f)
			} else {
				d.NoCache = true
			}
		}
	case "private":
		if len(cd.Private) == 0 {
			d.Private = true
		}
		for f := range cd.Private {
			if f != "" {
				d.PrivateFields = append(d.PrivateFields, f)
			} else {
				d.Private = true
			}
		}
	case "public":
		d.Public = true
	case "must-revalidate":
		d.MustRevalidate = true
	case "proxy-revalidate":
		d.ProxyRevalidate = true
	case "must-understand":
		d.MustUnderstand = true
	}
}

// RequestDirectives are the request Cache-Control directives (RFC 9111
// §5.2.1) and Pragma: no-cache (§5.4).
type RequestDirectives struct {
	// MaxAge: the client does not want a response older than this.
	MaxAge    time.Duration
	HasMaxAge bool
	// MaxStale: the client accepts a response stale by up to this much;
	// AnyStale when given without a value.
	MaxStale    time.Duration
	HasMaxStale bool
	AnyStale    bool
	// MinFresh: the client wants a response fresh for at least this long.
	MinFresh    time.Duration
	HasMinFresh bool
	// NoCache: the stored response must be validated first.
	NoCache bool
	// NoStore: neither the request nor its response may be stored.
	NoStore bool
	// OnlyIfCached: answer from the cache or with 504.
	OnlyIfCached bool
}

// ParseRequestDirectives reads the request's Cache-Control, and Pragma:
// no-cache when Cache-Control is absent (RFC 9111 §5.4).
func ParseRequestDirectives(h http.Header) RequestDirectives {
	var d RequestDirectives
	values := h.Values("Cache-Control")
	if len(values) == 0 {
		for _, v := range h.Values("Pragma") {
			for _, p := range strings.Split(v, ",") {
				if strings.EqualFold(strings.TrimSpace(p), "no-cache") {
					d.NoCache = true
				}
			}
		}
		return d
	}
	eachDirective(values, func(name, member string, first bool) {
		cd, err := cacheobject.ParseRequestCacheControl(member)
		if err != nil {
			// An invalid max-age=x asks for something we cannot tell:
			// validate, the conservative reading.
			if name == "max-age" && first {
				d.MaxAge, d.HasMaxAge = 0, true
			}
			return
		}
		switch name {
		case "max-age":
			if first {
				d.MaxAge, d.HasMaxAge = delta(cd.MaxAge), true
			}
		case "max-stale":
			if first {
				d.HasMaxStale = true
				if cd.MaxStale < 0 {
					d.AnyStale = true
				} else {
					d.MaxStale = delta(cd.MaxStale)
				}
			}
		case "min-fresh":
			if first {
				d.MinFresh, d.HasMinFresh = delta(cd.MinFresh), true
			}
		case "no-cache":
			d.NoCache = true
		case "no-store":
			d.NoStore = true
		case "only-if-cached":
			d.OnlyIfCached = true
		}
	})
	return d
}

// delta converts parsed delta-seconds. cacheobject caps at 2^31-1; the
// RFC's cap is 2^31 seconds (§1.2.2).
func delta(s cacheobject.DeltaSeconds) time.Duration {
	if s < 0 {
		return 0
	}
	if s == math.MaxInt32 {
		return maxDelta
	}
	return time.Duration(s) * time.Second
}

// splitDirectives splits a Cache-Control line into its members at commas
// outside quoted strings (RFC 9110 §5.6.1, §5.6.4).
func splitDirectives(line string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			if m := strings.TrimSpace(line[start:i]); m != "" {
				out = append(out, m)
			}
			start = i + 1
		}
	}
	if m := strings.TrimSpace(line[start:]); m != "" {
		out = append(out, m)
	}
	return out
}
