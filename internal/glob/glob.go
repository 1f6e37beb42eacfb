// Package glob translates the path globs of route matches into regular
// expressions. It is its own package because two packages need the one
// translation: config, which refuses an invalid pattern when the file is
// loaded, and policy, which matches requests with it.
package glob

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// IsPattern reports whether path is a glob rather than a plain prefix:
// whether it contains *, ? or [.
func IsPattern(path string) bool { return strings.ContainsAny(path, "*?[") }

// Regexp translates a path glob into an anchored regular expression:
// * matches within one segment, ** across segments ("/a/**/b" also
// matches "/a/b"), ? one character other than "/", [abc], [a-z] and
// [!abc] one character of a class.
func Regexp(glob string) (*regexp.Regexp, error) { return translate(glob, false) }

// captureName is a named capture at the start of a route path glob.
var captureName = regexp.MustCompile(`^\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// HasCapture reports whether a route path names a capture ("{id}").
func HasCapture(path string) bool {
	for i := strings.IndexByte(path, '{'); i >= 0; i = strings.IndexByte(path, '{') {
		if captureName.MatchString(path[i:]) {
			return true
		}
		path = path[i+1:]
	}
	return false
}

// RouteRegexp is Regexp for a route's match path, where a whole segment
// "{name}" also matches one segment and captures it under name (a
// submatch of that name): "/posts/{id}", "/users/{user}/**". A capture
// must be a whole segment and its name unique. Purge patterns have no
// captures: a "{" there is a literal.
func RouteRegexp(glob string) (*regexp.Regexp, error) { return translate(glob, true) }

// translate is Regexp, with captures when captures is set.
func translate(glob string, captures bool) (*regexp.Regexp, error) {
	var b strings.Builder
	names := map[string]bool{}
	b.WriteByte('^')
	lit := 0 // start of the pending run of literal bytes
	flush := func(i int) { b.WriteString(regexp.QuoteMeta(glob[lit:i])) }
	for i := 0; i < len(glob); i++ {
		switch glob[i] {
		case '*':
			flush(i)
			if i+1 < len(glob) && glob[i+1] == '*' {
				if i > 0 && glob[i-1] == '/' && i+2 < len(glob) && glob[i+2] == '/' {
					b.WriteString("(?:.*/)?")
					i += 2
				} else {
					b.WriteString(".*")
					i++
				}
			} else {
				b.WriteString("[^/]*")
			}
			lit = i + 1
		case '?':
			flush(i)
			b.WriteString("[^/]")
			lit = i + 1
		case '{':
			m := captureName.FindStringSubmatch(glob[i:])
			if !captures || m == nil {
				continue
			}
			end := i + len(m[0])
			if i == 0 || glob[i-1] != '/' || (end < len(glob) && glob[end] != '/') {
				return nil, fmt.Errorf("capture %s must be a whole path segment (\"/posts/{id}\")", m[0])
			}
			if names[m[1]] {
				return nil, fmt.Errorf("capture %s is named twice", m[0])
			}
			names[m[1]] = true
			flush(i)
			b.WriteString("(?P<" + m[1] + ">[^/]+)")
			i = end - 1
			lit = end
		case '[':
			flush(i)
			j := i + 1
			negate := j < len(glob) && (glob[j] == '!' || glob[j] == '^')
			if negate {
				j++
			}
			end := ClassEnd(glob, i)
			if end < 0 {
				return nil, errors.New(`"[" without its "]"`)
			}
			b.WriteByte('[')
			if negate {
				b.WriteString("^/")
			}
			for _, c := range []byte(glob[j:end]) {
				if c == '\\' || c == '[' || c == ']' || c == '^' {
					b.WriteByte('\\')
				}
				b.WriteByte(c)
			}
			b.WriteByte(']')
			i = end
			lit = i + 1
		}
	}
	flush(len(glob))
	b.WriteByte('$')
	return regexp.Compile(b.String())
}

// ClassEnd returns the index of the "]" that closes the class opened by
// the "[" at glob[i], or -1: a "]" first in the class, after the "!" or
// "^" of a negated one, is a member ("[]]", "[!]]"). Whoever reads a glob
// (normalizing its literal runs, say) must see the classes Regexp sees.
func ClassEnd(glob string, i int) int {
	end := i + 1
	if end < len(glob) && (glob[end] == '!' || glob[end] == '^') {
		end++
	}
	if end < len(glob) && glob[end] == ']' {
		end++ // a "]" first in a class is a member
	}
	for end < len(glob) && glob[end] != ']' {
		end++
	}
	if end >= len(glob) {
		return -1
	}
	return end
}

// Quote returns s as a glob that matches s literally: each metacharacter
// (*, ? and [) becomes a one-member class ("[*]"). Regexp takes a "]"
// outside a class literally, so it needs no quoting. Templates use it to
// insert request values into a pattern without letting a client widen it.
func Quote(s string) string {
	if !strings.ContainsAny(s, "*?[") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[':
			b.WriteByte('[')
			b.WriteByte(c)
			b.WriteByte(']')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
