package policy

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/glob"
)

// matcher is a Match compiled for matching without allocations.
type matcher struct {
	compiled bool
	// host is lower-case; for a wildcard it is the suffix with its dot
	// (".example.com").
	host     string
	wildcard bool
	// prefix is the path prefix when the path is not a glob.
	prefix string
	glob   *regexp.Regexp
	// ext is the file extension the glob matches (deception.go), or "".
	ext string
	// conds are the conditions on headers, cookies and query (conditions.go).
	conds conditions
}

// compileMatch compiles m, of a route that bypasses the cache or not; it
// fails only on a path that is not a valid pattern or a condition that
// config.Parse would have refused.
func compileMatch(m config.Match, bypass bool) (matcher, error) {
	c := matcher{compiled: true, host: strings.ToLower(m.Host)}
	if rest, ok := strings.CutPrefix(c.host, "*"); ok {
		c.host, c.wildcard = rest, true
	}
	conds, err := compileConditions(m, bypass)
	if err != nil {
		return c, err
	}
	c.conds = conds
	if m.Path == "" {
		return c, nil
	}
	if m.Path[0] != '/' {
		return c, fmt.Errorf("must start with \"/\", got %q", m.Path)
	}
	if !glob.IsPattern(m.Path) && !glob.HasCapture(m.Path) {
		c.prefix = m.Path
		return c, nil
	}
	re, err := glob.RouteRegexp(m.Path)
	if err != nil {
		return c, fmt.Errorf("invalid pattern %q: %v", m.Path, err)
	}
	c.glob = re
	c.ext = matchedExtension(m.Path)
	return c, nil
}

// Route returns the first route that matches r, or the default route. The
// result points into c and must not be modified. Route is safe for
// concurrent use and allocates nothing for a request whose path has no
// dot segments.
func (c *Rules) Route(r *http.Request) *Route {
	host := HostName(requestHost(r))
	path := matchPath(r.URL)
	if hasDotSegment(path) {
		path = removeDotSegments(path)
	}
	for i := range c.routes {
		if c.routes[i].matches(host, path, r) {
			return &c.routes[i]
		}
	}
	return &c.defaultRoute
}

// StoringRoutes returns the cached routes under which entries for a GET
// of r's target may be stored, whatever its header fields, cookies and
// query conditions: in order, every route whose host, path and method
// match (conditions aside) down to the first without conditions, or the
// default route; bypass routes left out. An unsafe request invalidates
// under each (RFC 9111 §4.4): a logged-in user's POST, routed to a bypass
// route, still invalidates the anonymous entry of its target.
func (c *Rules) StoringRoutes(r *http.Request) []*Route {
	host := HostName(requestHost(r))
	path := removeDotSegments(matchPath(r.URL))
	var out []*Route
	for i := range c.routes {
		rt := &c.routes[i]
		m, ok := rt.matchesTarget(host, path, r.Method)
		if !ok {
			continue
		}
		if !rt.Bypass {
			out = append(out, rt)
		}
		if m.conds.empty() {
			return out
		}
	}
	if c.defaultRoute.Bypass {
		return out
	}
	return append(out, &c.defaultRoute)
}

// matchPath is the path routes match: u's path with its escapes decoded,
// except an encoded "/" (%2F), which stays encoded. The origin receives
// the path escaped, and many (Express, Rack, Tomcat behind a proxy) do not
// take %2F for a separator: "/static%2Fprofile" is one segment to them,
// maybe a dynamic page, and must not be taken for a file below /static/
// and stored under that route's rules (a cache-deception path confusion).
func matchPath(u *url.URL) string {
	if u == nil {
		return "/"
	}
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	if !strings.Contains(p, "%") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			if c := unhex(p[i+1])<<4 | unhex(p[i+2]); c != '/' {
				b.WriteByte(c)
				i += 2
				continue
			}
			b.WriteString("%2F")
			i += 2
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// matches reports whether request r for host and path (dot segments
// resolved) is selected by rt.
func (rt *Route) matches(host, path string, r *http.Request) bool {
	m, ok := rt.matchesTarget(host, path, r.Method)
	return ok && (m.conds.empty() || m.conds.hold(r))
}

// matchesTarget reports whether a request for host and path with method
// is selected by rt, its conditions aside, and returns rt's compiled
// match. A Route not made by Compile is compiled on the fly.
func (rt *Route) matchesTarget(host, path, method string) (*matcher, bool) {
	m := &rt.match
	if !m.compiled {
		c, err := compileMatch(rt.Match, rt.Bypass)
		if err != nil {
			return m, false
		}
		m = &c
	}
	if len(rt.Match.Methods) > 0 && !slices.Contains(rt.Match.Methods, method) {
		return m, false
	}
	switch {
	case m.host == "":
	case m.wildcard:
		if len(host) <= len(m.host) || !strings.EqualFold(host[len(host)-len(m.host):], m.host) {
			return m, false
		}
	case !strings.EqualFold(host, m.host):
		return m, false
	}
	if m.glob != nil {
		return m, m.glob.MatchString(path)
	}
	return m, strings.HasPrefix(path, m.prefix)
}

// requestHost is the host a request is for: r.Host, else the URL's host.
func requestHost(r *http.Request) string {
	if r.Host != "" || r.URL == nil {
		return r.Host
	}
	return r.URL.Host
}

// hasDotSegment reports whether path has a "." or ".." segment.
func hasDotSegment(path string) bool {
	for i := 0; i < len(path); i++ {
		if path[i] != '.' || (i > 0 && path[i-1] != '/') {
			continue
		}
		j := i + 1
		if j < len(path) && path[j] == '.' {
			j++
		}
		if j == len(path) || path[j] == '/' {
			return true
		}
	}
	return false
}

// removeDotSegments resolves "." and ".." segments (RFC 3986 §5.2.4).
func removeDotSegments(in string) string {
	if !hasDotSegment(in) {
		return in
	}
	out := make([]byte, 0, len(in))
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"): // A
			in = in[3:]
		case strings.HasPrefix(in, "./"): // A
			in = in[2:]
		case strings.HasPrefix(in, "/./"): // B
			in = in[2:]
		case in == "/.": // B
			in = "/"
		case strings.HasPrefix(in, "/../"): // C
			in = in[3:]
			out = out[:lastSlash(out)]
		case in == "/..": // C
			in = "/"
			out = out[:lastSlash(out)]
		case in == "." || in == "..": // D
			in = ""
		default: // E: move the first segment, with its leading "/", to out
			i := strings.IndexByte(in[1:], '/') + 1
			if i == 0 {
				i = len(in)
			}
			out = append(out, in[:i]...)
			in = in[i:]
		}
	}
	return string(out)
}

// lastSlash returns the index of the last "/" in b, or 0.
func lastSlash(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '/' {
			return i
		}
	}
	return 0
}
