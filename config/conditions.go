package config

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/cachegate/cachegate/internal/httpfield"
)

// Condition is one test of a route's match on a request header field, a
// cookie or a query parameter, e.g. {name: "wordpress_logged_in_*",
// present: true}. Exactly one of Present, Absent, Equals, Prefix and Regex
// is set; Not negates the test.
//
// A header condition names one field (case-insensitively) and tests its
// value as the origin reads it: every line joined with ", ". A cookie or
// query condition's name may end in * to match every cookie or parameter
// whose name starts with the rest; names are compared case-insensitively
// (query names percent-decoded), so a differently spelled name cannot slip
// past a bypass route. When several cookies or parameters match a
// condition's name, Equals, Prefix and Regex are read the way that errs
// toward not caching: on a bypass route one of them passing is enough,
// on a cached route every one must pass.
type Condition struct {
	// Name is the header field, cookie or query parameter tested.
	Name string `yaml:"name"`
	// Present holds when at least one occurrence of Name is sent.
	Present bool `yaml:"present"`
	// Absent holds when none is.
	Absent bool `yaml:"absent"`
	// Equals holds when the value is exactly this (case-sensitive).
	Equals *string `yaml:"equals"`
	// Prefix holds when the value starts with this (case-sensitive).
	Prefix *string `yaml:"prefix"`
	// Regex holds when this RE2 regular expression matches the value
	// anywhere (anchor it with ^ and $; (?i) ignores case).
	Regex *string `yaml:"regex"`
	// Not negates the test.
	Not bool `yaml:"not"`
}

// HasConditions reports whether m tests headers, cookies or query
// parameters.
func (m *Match) HasConditions() bool {
	return len(m.Headers) > 0 || len(m.Cookies) > 0 || len(m.Query) > 0
}

// Tests is the number of tests set, which must be 1.
func (c *Condition) tests() int {
	n := 0
	for _, set := range []bool{c.Present, c.Absent, c.Equals != nil, c.Prefix != nil, c.Regex != nil} {
		if set {
			n++
		}
	}
	return n
}

// AbsentOnly reports whether the condition can only hold for requests
// without the field: absent, or present negated.
func (c *Condition) AbsentOnly() bool {
	return (c.Absent && !c.Not) || (c.Present && c.Not)
}

// NamePrefix returns the name without its trailing * and whether it had
// one (a cookie or query name pattern).
func (c *Condition) NamePrefix() (string, bool) {
	return strings.CutSuffix(c.Name, "*")
}

// validateConditions checks match.headers, match.cookies and match.query
// of the route, at path (its match).
func (rt *Route) validateConditions(ch *checker, path string) {
	for i := range rt.Match.Headers {
		c := &rt.Match.Headers[i]
		rt.validateCondition(ch, path+".headers["+strconv.Itoa(i)+"]", c, rt.headerConditionProblem(c))
	}
	for i := range rt.Match.Cookies {
		c := &rt.Match.Cookies[i]
		rt.validateCondition(ch, path+".cookies["+strconv.Itoa(i)+"]", c, rt.cookieConditionProblem(c))
	}
	for i := range rt.Match.Query {
		c := &rt.Match.Query[i]
		rt.validateCondition(ch, path+".query["+strconv.Itoa(i)+"]", c, rt.queryConditionProblem(c))
	}
}

// validateCondition checks what every condition needs (one test, a regex
// that compiles) and reports nameProblem, what is wrong with its name or
// field for this route, on its name.
func (rt *Route) validateCondition(ch *checker, path string, c *Condition, nameProblem string) {
	ch.check(path+".name", func() string { return nameProblem })
	ch.check(path, func() string {
		switch n := c.tests(); {
		case n == 0:
			return "condition has no test (set present, absent, equals, prefix or regex)"
		case n > 1:
			return "condition has " + strconv.Itoa(n) + " tests, want one of present, absent, equals, prefix and regex (write two conditions)"
		}
		return ""
	})
	if c.Regex != nil {
		ch.check(path+".regex", func() string {
			if _, err := regexp.Compile(*c.Regex); err != nil {
				return "invalid regular expression: " + err.Error()
			}
			return ""
		})
	}
}

// headerConditionProblem says what is wrong with testing header field
// c.Name on this route, or "".
func (rt *Route) headerConditionProblem(c *Condition) string {
	name := c.Name
	switch {
	case !isToken(name) || strings.Contains(name, "*"):
		return "must be a header field name (no patterns), got " + strconv.Quote(name)
	case strings.Contains(name, "_"):
		return strconv.Quote(name) + " has an underscore: such fields never reach the origin (CGI reads _ as -), so a condition could not see them"
	case httpfield.IsHopByHop(name):
		return strconv.Quote(name) + " is hop-by-hop (RFC 9110 §7.6.1): it never reaches the origin, so a condition cannot test it"
	case httpfield.IsForwarding(name):
		return strconv.Quote(name) + " is a forwarding field: cachegate sets it (see trusted_proxies), so a condition would test cachegate's own value"
	case name == "Cookie":
		return "test cookies with match.cookies"
	case name == "Host":
		return "test the host with match.host"
	case rt.Request.SetFields[name] != "" || hasKeyFold(rt.Request.SetFields, name):
		return strconv.Quote(name) + " is in this route's request.set_fields: the origin receives the route's value, so a condition must not test the client's"
	case containsName(rt.Request.DropFields, name):
		return strconv.Quote(name) + " is in this route's request.drop_fields: the origin never receives it, so a condition must not test it"
	case !rt.Bypass && !c.AbsentOnly() && !containsName(rt.KeyOptions.Headers, name):
		return cachedConditionProblem("header field "+strconv.Quote(name), "key.headers")
	}
	return ""
}

// cookieConditionProblem says what is wrong with testing cookie c.Name on
// this route, or "".
func (rt *Route) cookieConditionProblem(c *Condition) string {
	prefix, pattern := c.NamePrefix()
	switch {
	case prefix != "" && !isToken(prefix) || strings.Contains(prefix, "*"):
		return "must be a cookie name, with an optional trailing * for a prefix, got " + strconv.Quote(c.Name)
	case containsName(rt.Request.DropFields, "Cookie"):
		return "Cookie is in this route's request.drop_fields: the origin never receives cookies, so a condition must not test them"
	case rt.Bypass || c.AbsentOnly():
		return ""
	case pattern:
		return "a cached route can test a cookie name pattern only with absent: true (or present with not: true); set bypass: true to pass such requests"
	case !containsExact(rt.KeyOptions.Cookies, prefix):
		return cachedConditionProblem("cookie "+strconv.Quote(prefix), "key.cookies")
	case rt.Request.KeepCookies != nil && !containsExact(*rt.Request.KeepCookies, prefix):
		return "cookie " + strconv.Quote(prefix) + " is not in request.keep_cookies: the origin never receives it, so a condition must not test it"
	}
	return ""
}

// queryConditionProblem says what is wrong with testing query parameter
// c.Name on this route, or "".
func (rt *Route) queryConditionProblem(c *Condition) string {
	prefix, pattern := c.NamePrefix()
	switch {
	case c.Name == "" || strings.Contains(prefix, "*") || strings.ContainsAny(prefix, "&=#"):
		return "must be a query parameter name, with an optional trailing * for a prefix, got " + strconv.Quote(c.Name)
	case rt.Bypass || c.AbsentOnly():
		return ""
	case pattern:
		return "a cached route can test a query name pattern only with absent: true (or present with not: true); set bypass: true to pass such requests"
	case rt.KeyOptions.IgnoreAllQuery || ignoresQuery(rt.KeyOptions.IgnoreQuery, prefix):
		return cachedConditionProblem("query parameter "+strconv.Quote(prefix), "not dropped by key.ignore_query or key.ignore_all_query")
	}
	return ""
}

// cachedConditionProblem is the message for a cached route testing what
// its key does not hold: requests with different values of it would share
// one entry, one of them filling it for the others.
func cachedConditionProblem(what, keyOption string) string {
	return "a cached route may test " + what + " only with absent: true, or when its key holds it (" + keyOption +
		"), or with bypass: true: otherwise requests with different values share one entry"
}

// containsName reports whether the canonical field names hold name.
func containsName(names []string, name string) bool {
	for _, n := range names {
		if http.CanonicalHeaderKey(n) == name {
			return true
		}
	}
	return false
}

// containsExact reports whether names hold name exactly.
func containsExact(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// ignoresQuery reports whether a key.ignore_query pattern drops name.
func ignoresQuery(patterns []string, name string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(name, prefix) || p == name {
			return true
		}
	}
	return false
}

// hasKeyFold reports whether the field map has name, in any spelling.
func hasKeyFold(m map[string]string, name string) bool {
	for k := range m {
		if http.CanonicalHeaderKey(k) == name {
			return true
		}
	}
	return false
}
