package policy

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/glob"
)

// rule is a route's config.InvalidateRule with its templates parsed.
type rule struct {
	methods                        []string
	urls, prefixes, patterns, tags [][]config.TemplatePart
	soft                           bool
}

// compileRules parses the templates of a route's invalidation rules
// (config validated them).
func compileRules(rules []config.InvalidateRule) ([]rule, error) {
	out := make([]rule, len(rules))
	for i, r := range rules {
		out[i] = rule{methods: r.Methods, soft: r.Soft}
		for _, f := range []struct {
			texts []string
			into  *[][]config.TemplatePart
		}{{r.URLs, &out[i].urls}, {r.Prefixes, &out[i].prefixes}, {r.Patterns, &out[i].patterns}, {r.Tags, &out[i].tags}} {
			for _, text := range f.texts {
				parts, err := config.ParseRuleTemplate(text)
				if err != nil {
					return nil, fmt.Errorf("invalidate[%d]: %q: %w", i, text, err)
				}
				*f.into = append(*f.into, parts)
			}
		}
	}
	return out, nil
}

// Invalidation is what a route's invalidation rule purges after one
// request: purge scope values by kind (Key.URL, PrefixScopes,
// PatternScope, tags), hard or soft.
type Invalidation struct {
	Soft     bool
	URLs     []string
	Prefixes []string
	Patterns []string
	Tags     []string
}

// HasInvalidations reports whether the route has invalidation rules.
func (rt *Route) HasInvalidations() bool { return len(rt.rules) > 0 }

// Invalidations renders the invalidation rules of rt, the route request
// r took, for r's normalized target t: one Invalidation per rule that
// applies to r's method. A value that cannot be rendered safely (a host
// with characters no host has, a tag with spaces) or a result that is not
// a valid scope is left out and reported in errs; the rest is purged.
//
// Captured values are the target's path segments as keys keep them
// (percent-encoding normalized, see NewTarget): a segment cannot contain
// "/", "?" or "#", so it cannot add a segment or a query to a URL or a
// prefix, and it is quoted in patterns (glob.Quote), so that "*" in a
// request's path matches only itself. {path} is the target's path;
// {query.NAME} the first value of the parameter, escaped as one segment
// in URLs, prefixes and patterns. Tags get values decoded.
func (c *Rules) Invalidations(rt *Route, r *http.Request, t Target) (invs []Invalidation, errs []error) {
	if len(rt.rules) == 0 {
		return nil, nil
	}
	vars, err := rt.templateVars(r, t)
	if err != nil {
		return nil, []error{err}
	}
	for _, rl := range rt.rules {
		if !rl.appliesTo(r.Method) {
			continue
		}
		inv := Invalidation{Soft: rl.soft}
		rendered := func(field string, parts []config.TemplatePart, value func(templateVar) string) (string, bool) {
			s, err := render(parts, vars, value)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", field, err))
			}
			return s, err == nil
		}
		for _, parts := range rl.urls {
			s, ok := rendered("urls", parts, urlValue)
			if !ok {
				continue
			}
			u := t.absolute(s)
			key, _, err := c.KeyForURL(u)
			if err != nil {
				errs = append(errs, fmt.Errorf("urls: %q: %w", u, err))
				continue
			}
			inv.URLs = append(inv.URLs, key.URL())
		}
		for _, parts := range rl.prefixes {
			s, ok := rendered("prefixes", parts, urlValue)
			if !ok {
				continue
			}
			p := t.absolute(s)
			values, err := PrefixScopes(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("prefixes: %q: %w", p, err))
				continue
			}
			inv.Prefixes = append(inv.Prefixes, values...)
		}
		for _, parts := range rl.patterns {
			p, ok := rendered("patterns", parts, globValue)
			if !ok {
				continue
			}
			if strings.HasPrefix(p, "/") {
				p = t.Host + p
			}
			v, err := PatternScope(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("patterns: %q: %w", p, err))
				continue
			}
			inv.Patterns = append(inv.Patterns, v)
		}
		for _, parts := range rl.tags {
			tag, ok := rendered("tags", parts, tagValue)
			if !ok {
				continue
			}
			if tag == "" || strings.ContainsFunc(tag, func(c rune) bool { return c <= ' ' || c == 0x7f || c == ',' }) {
				errs = append(errs, fmt.Errorf("tags: %q: a tag has no spaces, commas or control characters", tag))
				continue
			}
			inv.Tags = append(inv.Tags, tag)
		}
		invs = append(invs, inv)
	}
	return invs, errs
}

// appliesTo reports whether the rule runs after a request with method:
// its methods, or without any every unsafe method (RFC 9110 §9.2.1).
func (rl *rule) appliesTo(method string) bool {
	if len(rl.methods) > 0 {
		return slices.Contains(rl.methods, method)
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// templateVar is one variable's value and what it is: the host, a path
// (a captured segment or the whole path, as the key keeps it, escaped) or
// a query parameter's value (decoded).
type templateVar struct {
	value string
	kind  byte // 'h' host, 'p' path or segment, 'q' query value
}

// templateVars returns the variables of r's templates: {host} and the
// segments rt's match path captures, taken from t.Path. The route's glob
// runs on the path routes match (matchPath: escapes decoded but %2F,
// dot segments resolved), which has the segments of t.Path one for one;
// a capture is a whole segment (glob.RouteRegexp), so its index there is
// its index in t.Path.
func (rt *Route) templateVars(r *http.Request, t Target) (map[string]templateVar, error) {
	if !validHost(t.Host) {
		return nil, fmt.Errorf("the request's host %q is not a host name", t.Host)
	}
	vars := map[string]templateVar{config.HostVar: {value: t.Host, kind: 'h'}, config.PathVar: {value: t.Path, kind: 'p'}}
	if r.URL != nil {
		for name, values := range r.URL.Query() {
			if len(values) > 0 {
				vars[config.QueryVar+name] = templateVar{value: values[0], kind: 'q'}
			}
		}
	}
	re := rt.match.glob
	if re == nil {
		return vars, nil
	}
	path := removeDotSegments(matchPath(r.URL))
	idx := re.FindStringSubmatchIndex(path)
	if idx == nil {
		return nil, fmt.Errorf("the route's path %q does not match %q", rt.Match.Path, path)
	}
	segments := strings.Split(t.Path, "/")
	for i, name := range re.SubexpNames() {
		if name == "" || idx[2*i] < 0 {
			continue
		}
		k := strings.Count(path[:idx[2*i]], "/")
		if k >= len(segments) || segments[k] == "" {
			return nil, fmt.Errorf("capture {%s}: no segment %d in %q", name, k, t.Path)
		}
		vars[name] = templateVar{value: segments[k], kind: 'p'}
	}
	return vars, nil
}

// validHost reports whether h, a normalized host, has only the bytes of
// a host name, an IP literal and a port: nothing a template could read as
// a path, a query or a glob.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '_'
		ok = ok || (c == '[' && i == 0) || (c == ']' && strings.HasPrefix(h, "["))
		if !ok {
			return false
		}
	}
	return true
}

// render writes a template with its variables, each through value. A
// variable without a value (a query parameter missing or empty) fails
// it: left empty it could widen a prefix ("/users/{query.u}").
func render(parts []config.TemplatePart, vars map[string]templateVar, value func(templateVar) string) (string, error) {
	var b strings.Builder
	for _, p := range parts {
		if p.Var == "" {
			b.WriteString(p.Literal)
			continue
		}
		v, ok := vars[p.Var]
		if !ok || v.value == "" {
			return "", fmt.Errorf("{%s} has no value in this request", p.Var)
		}
		s := value(v)
		if s == "" {
			return "", fmt.Errorf("{%s}: %q cannot be one path segment", p.Var, v.value)
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// urlValue inserts a value into a URL or a prefix: a path is already
// escaped as keys keep it (a segment holds no "/", "?" or "#"); a query
// value is escaped as one segment. A query value "." or ".." is no value
// (""): escaping leaves dots as they are (unreserved, RFC 3986 §2.3), and
// as a segment it would be resolved (§5.2.4), "/lists/{query.l}/" with
// l=".." purging "/" (captures cannot be one: the path's are resolved).
func urlValue(v templateVar) string {
	if v.kind == 'q' {
		if v.value == "." || v.value == ".." {
			return ""
		}
		return url.PathEscape(v.value)
	}
	return v.value
}

// globValue inserts a value into a pattern so that it matches only
// itself (the host is never a glob: PatternScope refuses it).
func globValue(v templateVar) string {
	if v.kind == 'h' {
		return v.value
	}
	return glob.Quote(urlValue(v))
}

// tagValue inserts a value into a tag, which is text, not a path: a path
// is decoded.
func tagValue(v templateVar) string {
	if v.kind != 'p' {
		return v.value
	}
	if d, err := url.PathUnescape(v.value); err == nil {
		return d
	}
	return v.value
}

// absolute makes a rendered path ("/posts/42") an absolute URL on t's
// scheme and host; an absolute URL is returned as it is.
func (t Target) absolute(s string) string {
	if strings.HasPrefix(s, "/") {
		return t.Scheme + "://" + t.Host + s
	}
	return s
}
