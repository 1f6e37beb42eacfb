package policy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/cachegate/cachegate/internal/glob"
)

// A purge pattern is a path glob in the syntax of route matches
// (internal/glob: * within a segment, ** across segments, ? and [...] one
// character), optionally on one host. Its scope value is the glob alone
// ("/users/42/**", every host) or the host before it
// ("example.com/users/42/**"), and it is matched against the host and
// path of an entry's Key.URL, never its query.

// PatternScope is the scope value of a purge by pattern: "/glob" for every
// host; "host/glob" or an http(s) URL "https://host/glob" for one host
// (the scheme is dropped, as for every scope: both schemes are purged).
// The host is normalized as a key's is, and the literal parts of the glob
// have their percent-encoding normalized as a key's path has (NewTarget),
// so that a pattern meets the paths entries keep. The error says why a
// pattern is refused: not a glob, a query or fragment, spaces, control or
// non-ASCII bytes (write them percent-encoded), dot segments.
func PatternScope(pattern string) (string, error) {
	rest, scheme := pattern, "http"
	for _, s := range []string{"http://", "https://"} {
		if len(rest) >= len(s) && strings.EqualFold(rest[:len(s)], s) {
			rest, scheme = rest[len(s):], s[:len(s)-3]
			break
		}
	}
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return "", errors.New(`need a path glob starting with "/", optionally after a host ("example.com/users/*/posts")`)
	}
	host, path := rest[:slash], rest[slash:]
	if host == "" && rest != pattern {
		return "", errors.New("no host after the scheme")
	}
	for i := 0; i < len(pattern); i++ {
		if c := pattern[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return "", fmt.Errorf("byte %q is not allowed: a pattern is a path glob, without fragment, spaces or raw non-ASCII (percent-encode them)", c)
		}
	}
	if strings.ContainsAny(host, "*?[]") && !strings.HasPrefix(host, "[") {
		return "", errors.New("the host cannot be a glob: purge the host, or give a pattern without host")
	}
	if _, err := glob.Regexp(path); err != nil {
		return "", fmt.Errorf("not a valid glob: %v", err)
	}
	// Checked once normalized: "%2e%2e" is a ".." segment there, and
	// would match no key (keys resolve them).
	path = normalizeGlob(path)
	if hasDotSegment(path) {
		return "", errors.New(`"." and ".." segments are not allowed`)
	}
	if host == "" {
		return path, nil
	}
	return NormalizeHost(host, scheme) + path, nil
}

// normalizeGlob normalizes the percent-encoding of the literal runs of a
// path glob (normalizePercent), leaving its metacharacters and classes as
// they are.
func normalizeGlob(g string) string {
	var b strings.Builder
	lit := 0
	flush := func(i int) { b.WriteString(normalizePercent(g[lit:i], false)) }
	for i := 0; i < len(g); i++ {
		switch g[i] {
		case '*', '?':
			flush(i)
			b.WriteByte(g[i])
			lit = i + 1
		case '[':
			end := glob.ClassEnd(g, i)
			if end < 0 {
				continue // glob.Regexp refuses it
			}
			flush(i)
			b.WriteString(g[i : end+1])
			i = end
			lit = i + 1
		}
	}
	flush(len(g))
	return b.String()
}

// PathPattern is a purge pattern's scope value compiled for matching.
type PathPattern struct {
	anyHost bool
	// prefix is the literal start of the glob: a path without it is
	// refused without running re (most active patterns do not match most
	// hits).
	prefix string
	re     *regexp.Regexp
}

// CompilePattern compiles a scope value made by PatternScope.
func CompilePattern(value string) (*PathPattern, error) {
	anyHost := strings.HasPrefix(value, "/")
	g := value
	if !anyHost {
		slash := strings.IndexByte(value, '/')
		if slash < 0 {
			return nil, fmt.Errorf("pattern %q: no path", value)
		}
		g = glob.Quote(value[:slash]) + value[slash:]
	}
	re, err := glob.Regexp(g)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", value, err)
	}
	prefix := value
	if meta := strings.IndexAny(value[strings.IndexByte(value, '/'):], "*?["); meta >= 0 {
		prefix = value[:strings.IndexByte(value, '/')+meta]
	}
	return &PathPattern{anyHost: anyHost, prefix: prefix, re: re}, nil
}

// Matches reports whether the pattern covers the entry whose Key.URL is
// keyURL: its host and path, the query aside.
func (p *PathPattern) Matches(keyURL string) bool {
	return p.MatchesTarget(SplitKeyURL(keyURL))
}

// SplitKeyURL splits a Key.URL into its host and path without the query
// (hostPath) and its path alone, the strings patterns match: a check of
// many patterns splits once.
func SplitKeyURL(keyURL string) (hostPath, path string) {
	if q := strings.IndexByte(keyURL, '?'); q >= 0 {
		keyURL = keyURL[:q]
	}
	slash := strings.IndexByte(keyURL, '/')
	if slash < 0 {
		return keyURL, ""
	}
	return keyURL, keyURL[slash:]
}

// MatchesTarget is Matches of a Key.URL split by SplitKeyURL.
func (p *PathPattern) MatchesTarget(hostPath, path string) bool {
	s := hostPath
	if p.anyHost {
		s = path
	}
	return strings.HasPrefix(s, p.prefix) && p.re.MatchString(s)
}

// PatternHost is the host a pattern scope value is limited to, or "" for
// a pattern on every host.
func PatternHost(value string) string {
	host, _, _ := strings.Cut(value, "/")
	return HostName(host)
}
