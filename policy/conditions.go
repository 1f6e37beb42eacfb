package policy

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/cachegate/cachegate/config"
)

// A route's conditions on request headers, cookies and query parameters
// (config.Condition). They are tested on the request as the origin will
// receive it (Route runs after the proxy's normalize: hop-by-hop and
// Connection-listed fields gone, the forwarding family cachegate's own),
// so a condition is never satisfied by a field the origin does not get.
//
// Where a request is ambiguous (a cookie or parameter sent twice, with
// different values), a condition errs toward not caching: on a bypass
// route one passing occurrence makes it hold, on a cached route every
// occurrence must pass. A route with conditions keys its entries apart
// from every other route's (Route.keyedFields), so a request that did not
// satisfy them can neither fill nor hit its entries.

// testKind is the test of a condition.
type testKind uint8

const (
	testPresent testKind = iota
	testAbsent
	testEquals
	testPrefix
	testRegex
)

// condition is a config.Condition compiled.
type condition struct {
	// name is a canonical header name, or a cookie or query name (or name
	// prefix, with prefixName) compared case-insensitively.
	name       string
	prefixName bool
	kind       testKind
	value      string
	re         *regexp.Regexp
	not        bool
}

// conditions are a match's compiled conditions.
type conditions struct {
	headers, cookies, query []condition
	// loose is true on a bypass route: an ambiguous request matches.
	loose bool
}

// empty reports whether there is no condition at all.
func (cs *conditions) empty() bool {
	return len(cs.headers) == 0 && len(cs.cookies) == 0 && len(cs.query) == 0
}

// compileConditions compiles m's conditions for a route that bypasses the
// cache or not.
func compileConditions(m config.Match, bypass bool) (conditions, error) {
	cs := conditions{loose: bypass}
	var err error
	if cs.headers, err = compileConditionList(m.Headers, "headers", true); err != nil {
		return cs, err
	}
	if cs.cookies, err = compileConditionList(m.Cookies, "cookies", false); err != nil {
		return cs, err
	}
	cs.query, err = compileConditionList(m.Query, "query", false)
	return cs, err
}

// compileConditionList compiles the conditions of option; header names
// are exact, cookie and query names may end in "*".
func compileConditionList(list []config.Condition, option string, header bool) ([]condition, error) {
	var out []condition
	for i, c := range list {
		cc := condition{name: c.Name, not: c.Not}
		if header {
			cc.name = http.CanonicalHeaderKey(c.Name)
		} else {
			cc.name, cc.prefixName = c.NamePrefix()
		}
		switch {
		case c.Present:
			cc.kind = testPresent
		case c.Absent:
			cc.kind = testAbsent
		case c.Equals != nil:
			cc.kind, cc.value = testEquals, *c.Equals
		case c.Prefix != nil:
			cc.kind, cc.value = testPrefix, *c.Prefix
		case c.Regex != nil:
			re, err := regexp.Compile(*c.Regex)
			if err != nil {
				return nil, fmt.Errorf("match.%s[%d].regex: %w", option, i, err)
			}
			cc.kind, cc.re = testRegex, re
		default:
			return nil, fmt.Errorf("match.%s[%d]: no test", option, i)
		}
		out = append(out, cc)
	}
	return out, nil
}

// hold reports whether r satisfies every condition.
func (cs *conditions) hold(r *http.Request) bool {
	for i := range cs.headers {
		if !cs.headerHolds(&cs.headers[i], r.Header) {
			return false
		}
	}
	for i := range cs.cookies {
		if !cs.cookieHolds(&cs.cookies[i], r.Header["Cookie"]) {
			return false
		}
	}
	if len(cs.query) > 0 {
		raw := ""
		if r.URL != nil {
			raw = r.URL.RawQuery
		}
		for i := range cs.query {
			if !cs.queryHolds(&cs.query[i], raw) {
				return false
			}
		}
	}
	return true
}

// headerHolds tests the field's value as the origin reads it, every line
// joined with ", " (RFC 9110 §5.3): one occurrence.
func (cs *conditions) headerHolds(c *condition, h http.Header) bool {
	values := h[c.name]
	var o occurrences
	switch len(values) {
	case 0:
	case 1:
		o.add(c.pass(values[0]))
	default:
		o.add(c.pass(strings.Join(values, ", ")))
	}
	return c.decide(o, cs.loose)
}

// cookieHolds tests every cookie of the Cookie lines whose name matches
// (RFC 6265 §5.4 syntax: "name=value" pairs separated by ";").
func (cs *conditions) cookieHolds(c *condition, lines []string) bool {
	var o occurrences
	for _, line := range lines {
		for line != "" {
			var pair string
			pair, line, _ = strings.Cut(line, ";")
			name, value, _ := strings.Cut(strings.TrimSpace(pair), "=")
			if c.nameMatches(strings.TrimSpace(name)) {
				o.add(c.pass(strings.TrimSpace(value)))
			}
		}
	}
	return c.decide(o, cs.loose)
}

// queryHolds tests every parameter of the raw query whose name, decoded,
// matches; values are tested decoded.
func (cs *conditions) queryHolds(c *condition, raw string) bool {
	var o occurrences
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		name, value, _ := strings.Cut(part, "=")
		if c.nameMatches(unescapeQuery(name)) {
			o.add(c.pass(unescapeQuery(value)))
		}
	}
	return c.decide(o, cs.loose)
}

// unescapeQuery decodes a query name or value as the origin would; one
// that does not decode is tested as sent.
func unescapeQuery(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

// nameMatches compares a cookie or query name case-insensitively with the
// condition's name or name prefix.
func (c *condition) nameMatches(name string) bool {
	if c.prefixName {
		return len(name) >= len(c.name) && strings.EqualFold(name[:len(c.name)], c.name)
	}
	return strings.EqualFold(name, c.name)
}

// occurrences counts the occurrences of a condition's name and which of
// them passed its value test.
type occurrences struct {
	n, passed int
}

func (o *occurrences) add(passed bool) {
	o.n++
	if passed {
		o.passed++
	}
}

// pass applies the value test (equals, prefix, regex) to v.
func (c *condition) pass(v string) bool {
	switch c.kind {
	case testEquals:
		return v == c.value
	case testPrefix:
		return strings.HasPrefix(v, c.value)
	case testRegex:
		return c.re.MatchString(v)
	}
	return true
}

// decide is the condition's result for the occurrences found. A value
// test over several occurrences errs toward not caching: loose (a bypass
// route) holds when one passes, strict (a cached route) only when all do;
// negated, loose holds unless all pass, strict only when none does.
func (c *condition) decide(o occurrences, loose bool) bool {
	var held bool
	switch c.kind {
	case testPresent:
		held = o.n > 0
	case testAbsent:
		held = o.n == 0
	default:
		some, all := o.passed > 0, o.n > 0 && o.passed == o.n
		switch {
		case !c.not && loose:
			return some
		case !c.not:
			return all
		case loose:
			return !all
		default:
			return !some
		}
	}
	return held != c.not
}
