package config

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/cachegate/cachegate/internal/glob"
)

// InvalidateRule is a write-through invalidation rule of a route: after
// a 2xx or 3xx answer to one of Methods, the rendered URLs, prefixes,
// patterns and tags are purged, in every instance, before the answer
// reaches the client. Each is a template: "{name}" is replaced by the
// path segment the route's match.path captures as {name}
// ("/posts/{id}"), "{host}" by the request's host, "{path}" by its path,
// "{query.NAME}" by the value of its query parameter NAME (a template
// whose parameter is missing or empty is not purged). Values are inserted
// literally: a request cannot add a segment, a query or a glob
// metacharacter to what is purged.
type InvalidateRule struct {
	// Methods are the unsafe methods the rule applies to; none is every
	// unsafe method the route matches (POST, PUT, PATCH, DELETE).
	Methods []string `yaml:"methods"`
	// URLs are URLs to purge, every variant: a path ("/posts/{id}", on the
	// request's host and scheme) or an absolute http(s) URL.
	URLs []string `yaml:"urls"`
	// Prefixes are path prefixes to purge, on the request's host
	// ("/authors/{author}/"), or absolute http(s) URLs.
	Prefixes []string `yaml:"prefixes"`
	// Patterns are path globs to purge (as the admin API's patterns), on
	// the request's host ("/users/{user}/**"), or after a host.
	Patterns []string `yaml:"patterns"`
	// Tags are tags to purge ("post-{id}").
	Tags []string `yaml:"tags"`
	// Soft marks the entries stale (served while one refresh runs)
	// instead of invalid.
	Soft bool `yaml:"soft"`
}

// UnsafeMethods are the methods an invalidation rule may name: the
// methods whose success invalidates (RFC 9111 §4.4).
var UnsafeMethods = []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// The template variables that every route has: the request's host and
// path, and its query parameters (QueryVar + name).
const (
	HostVar  = "host"
	PathVar  = "path"
	QueryVar = "query."
)

// TemplatePart is a literal or, when Var is set, a variable of a rule
// template.
type TemplatePart struct {
	Literal string
	Var     string
}

// ParseRuleTemplate splits a rule template into literals and variables
// ("{name}"). A "{" that starts no variable is refused, so that a typo
// never becomes a literal purge of nothing.
func ParseRuleTemplate(text string) ([]TemplatePart, error) {
	var parts []TemplatePart
	for text != "" {
		open := strings.IndexAny(text, "{}")
		if open < 0 {
			parts = append(parts, TemplatePart{Literal: text})
			break
		}
		if text[open] == '}' {
			return nil, fmt.Errorf("a %q without its %q", "}", "{")
		}
		end := strings.IndexByte(text[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("a %q without its %q", "{", "}")
		}
		name := text[open+1 : open+end]
		param, isQuery := strings.CutPrefix(name, QueryVar)
		if isQuery && (param == "" || strings.ContainsAny(param, "&=#%+ ")) || !isQuery && !isVarName(name) {
			return nil, fmt.Errorf("{%s} is not a variable (a capture's name, host, path or query.NAME)", name)
		}
		if open > 0 {
			parts = append(parts, TemplatePart{Literal: text[:open]})
		}
		parts = append(parts, TemplatePart{Var: name})
		text = text[open+end+1:]
	}
	return parts, nil
}

func isVarName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// captures returns the names a route's match path captures.
func (rt *Route) captures() []string {
	re, err := glob.RouteRegexp(rt.Match.Path)
	if err != nil || !glob.HasCapture(rt.Match.Path) {
		return nil
	}
	var names []string
	for _, n := range re.SubexpNames() {
		if n != "" {
			names = append(names, n)
		}
	}
	return names
}

// validateInvalidate checks the route's invalidation rules: methods that
// are unsafe and that the route matches, templates that parse and name
// only what the route captures, URLs and prefixes that are paths or
// absolute URLs, patterns that are valid globs.
func (rt *Route) validateInvalidate(ch *checker, path string) {
	captured := rt.captures()
	for i := range rt.Invalidate {
		rule := &rt.Invalidate[i]
		rpath := path + ".invalidate[" + strconv.Itoa(i) + "]"
		ch.check(rpath, func() string {
			if len(rule.URLs)+len(rule.Prefixes)+len(rule.Patterns)+len(rule.Tags) == 0 {
				return "rule purges nothing (set urls, prefixes, patterns or tags)"
			}
			if len(rt.Match.Methods) > 0 && !slices.ContainsFunc(rt.Match.Methods, isUnsafe) {
				return "the route matches only safe methods (" + strings.Join(rt.Match.Methods, ", ") +
					"): an invalidation rule runs after an unsafe request (POST, PUT, PATCH, DELETE) the route matches"
			}
			return ""
		})
		for j, m := range rule.Methods {
			ch.check(rpath+".methods["+strconv.Itoa(j)+"]", func() string {
				switch {
				case !isUnsafe(m):
					return "must be one of " + strings.Join(UnsafeMethods, ", ") + ", got " + strconv.Quote(m)
				case len(rt.Match.Methods) > 0 && !slices.Contains(rt.Match.Methods, m):
					return "the route does not match " + m + " (match.methods: " + strings.Join(rt.Match.Methods, ", ") + ")"
				}
				return ""
			})
		}
		check := func(field string, texts []string, kind func(string) string) {
			for j, text := range texts {
				ch.check(rpath+"."+field+"["+strconv.Itoa(j)+"]", func() string {
					parts, err := ParseRuleTemplate(text)
					if err != nil {
						return "invalid template " + strconv.Quote(text) + ": " + err.Error()
					}
					for _, p := range parts {
						if p.Var != "" && p.Var != HostVar && p.Var != PathVar && !strings.HasPrefix(p.Var, QueryVar) && !slices.Contains(captured, p.Var) {
							has := "it captures nothing"
							if len(captured) > 0 {
								has = "it captures " + strings.Join(captured, ", ")
							}
							return fmt.Sprintf("{%s} is not captured by %s.match.path %q (%s; every route has host, path and query.NAME)",
								p.Var, path, rt.Match.Path, has)
						}
					}
					return kind(sample(parts))
				})
			}
		}
		check("urls", rule.URLs, checkURLTemplate)
		check("prefixes", rule.Prefixes, checkURLTemplate)
		check("patterns", rule.Patterns, checkPatternTemplate)
		check("tags", rule.Tags, func(tag string) string {
			if tag == "" || strings.ContainsAny(tag, " \t\r\n,") {
				return "a tag is one word without spaces or commas, got " + strconv.Quote(tag)
			}
			return ""
		})
	}
}

func isUnsafe(m string) bool { return slices.Contains(UnsafeMethods, m) }

// sample renders parts with a plain value for every variable, to check
// the shape of what the template renders.
func sample(parts []TemplatePart) string {
	var b strings.Builder
	for _, p := range parts {
		switch p.Var {
		case "":
			b.WriteString(p.Literal)
		case PathVar:
			b.WriteString("/x")
		default:
			b.WriteString("x")
		}
	}
	return b.String()
}

// checkURLTemplate accepts a path ("/posts/x") or an absolute http(s) URL.
func checkURLTemplate(s string) string {
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		return ""
	}
	if msg := checkURL(s, "http", "https"); msg != "" {
		return `must be a path starting with "/" or an absolute http or https URL, got ` + strconv.Quote(s)
	}
	return ""
}

// checkPatternTemplate accepts a path glob, optionally after a host or an
// http(s) URL's host (see the admin API's patterns).
func checkPatternTemplate(s string) string {
	rest := s
	for _, scheme := range []string{"http://", "https://"} {
		rest = strings.TrimPrefix(rest, scheme)
	}
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return `must be a path glob starting with "/", optionally after a host, got ` + strconv.Quote(s)
	}
	if _, err := glob.Regexp(rest[slash:]); err != nil {
		return fmt.Sprintf("invalid pattern %q: %v", s, err)
	}
	return ""
}

// prefixPatternWarnings warn of rule patterns that are path prefixes
// ("/users/{user}/**"): every distinct value a request puts in one is a
// pattern mark, and past cache.max_pattern_purges active ones a pattern
// purge is widened to its whole host, so that clients whose writes succeed
// could wipe a host's cache. Under prefixes the same purge is a prefix
// mark, which no bound widens.
func (c *Config) prefixPatternWarnings(x *index) []Problem {
	var warnings []Problem
	for i := range c.Routes {
		for j, rule := range c.Routes[i].Invalidate {
			for k, text := range rule.Patterns {
				if !isPrefixPattern(text) {
					continue
				}
				option := fmt.Sprintf("routes[%d].invalidate[%d].patterns[%d]", i, j, k)
				warnings = append(warnings, Problem{Line: x.lineOf(option), Option: option,
					Message: strconv.Quote(text) + " is a path prefix: write " + strconv.Quote(strings.TrimSuffix(text, "**")) +
						" under prefixes, which purges the same without taking one of the cache.max_pattern_purges active patterns per value (past them a pattern purge is widened to its whole host)"})
			}
		}
	}
	return warnings
}

// isPrefixPattern reports whether a rule's pattern template is a literal
// path (template variables are literal once rendered) ending in "/**".
func isPrefixPattern(text string) bool {
	parts, err := ParseRuleTemplate(text)
	if err != nil || !strings.HasSuffix(text, "/**") {
		return false
	}
	var literal strings.Builder
	for _, p := range parts {
		literal.WriteString(p.Literal)
	}
	return !strings.ContainsAny(strings.TrimSuffix(literal.String(), "**"), "*?[")
}
