package policy

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/dunglas/httpsfv"
)

// targetedDirectives returns the directives of the first valid targeted
// field of h among targets (RFC 9213 §2.2): a valid one takes precedence
// over Cache-Control and Expires. A field that is empty or is not a valid
// Structured Fields Dictionary (RFC 9651 §4.2) is ignored as a whole, as
// if it were absent (RFC 9213 §2.1), and the next is tried.
func targetedDirectives(h http.Header, targets []string) (ResponseDirectives, bool) {
	for _, name := range targets {
		values := h.Values(name)
		if len(values) == 0 {
			continue
		}
		d, err := parseTargeted(values...)
		if err == nil {
			return d, true
		}
	}
	return ResponseDirectives{}, false
}

// errEmptyTargeted is the error of a targeted field without members.
var errEmptyTargeted = errors.New("empty targeted field")

// parseTargeted reads the lines of a targeted field as one SF Dictionary
// (RFC 9651 §4.2: lines are combined before parsing) whose members carry
// the Cache-Control directives (RFC 9213 §2.1). Parameters are ignored; a
// repeated key keeps its last value (RFC 9651 §4.2.2). Dates (@…) and
// display strings (%"…") parse as RFC 9651 says; httpsfv v1.1.2 refuses a
// byte sequence without its "=" padding, which §4.2.7 says parsers SHOULD
// accept, so such a field is ignored: the stricter outcome.
func parseTargeted(lines ...string) (ResponseDirectives, error) {
	dict, err := httpsfv.UnmarshalDictionary(lines)
	if err != nil {
		return ResponseDirectives{}, fmt.Errorf("targeted field: %w", err)
	}
	if len(dict.Names()) == 0 {
		return ResponseDirectives{}, errEmptyTargeted
	}
	var d ResponseDirectives
	for _, key := range dict.Names() {
		m, _ := dict.Get(key)
		switch key {
		case "max-age":
			if s, ok := sfSeconds(m); ok {
				d.MaxAge, d.HasMaxAge = s, true
			} else {
				d.InvalidFreshness = true
			}
		case "s-maxage":
			if s, ok := sfSeconds(m); ok {
				d.SMaxAge, d.HasSMaxAge = s, true
			} else {
				d.InvalidFreshness = true
			}
		case "stale-while-revalidate":
			d.StaleWhileRevalidate, _ = sfSeconds(m)
		case "stale-if-error":
			d.StaleIfError, _ = sfSeconds(m)
		case "no-store":
			d.NoStore = sfTrue(m)
		case "no-cache":
			// A field-name list cannot be honoured field by field here:
			// treat any no-cache as unqualified, the stricter reading.
			d.NoCache = !sfFalse(m)
		case "private":
			d.Private = !sfFalse(m)
		case "public":
			d.Public = sfTrue(m)
		case "must-revalidate":
			d.MustRevalidate = sfTrue(m)
		case "proxy-revalidate":
			d.ProxyRevalidate = sfTrue(m)
		}
	}
	return d, nil
}

// sfSeconds reads a delta-seconds directive: a non-negative Integer
// (RFC 9213 §2.1 infers the SF type from RFC 9111's syntax), capped at
// maxDelta (RFC 9111 §1.2.2).
func sfSeconds(m httpsfv.Member) (time.Duration, bool) {
	item, ok := m.(httpsfv.Item)
	if !ok {
		return 0, false
	}
	n, ok := item.Value.(int64)
	if !ok || n < 0 {
		return 0, false
	}
	if n > int64(maxDelta/time.Second) {
		return maxDelta, true
	}
	return time.Duration(n) * time.Second, true
}

// sfTrue reports whether m is the Boolean true, as a directive without a
// value is (RFC 9651 §4.2.2).
func sfTrue(m httpsfv.Member) bool {
	item, ok := m.(httpsfv.Item)
	return ok && item.Value == true
}

// sfFalse reports whether m is the Boolean false.
func sfFalse(m httpsfv.Member) bool {
	item, ok := m.(httpsfv.Item)
	return ok && item.Value == false
}
