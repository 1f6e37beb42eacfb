package policy

import (
	"strings"
	"testing"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/glob"
)

func TestPatternScopeNormalizesLikeKeysAndRefusesWhatIsNotAPathGlob(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "/users/42/*", want: "/users/42/*"},
		{in: "Example.COM./users/**", want: "example.com/users/**"},
		{in: "https://example.com:443/a/%7euser/*", want: "example.com/a/~user/*"},
		{in: "http://example.com:8080/a/%2f/*", want: "example.com:8080/a/%2F/*"},
		{in: "/a/[!x]/*", want: "/a/[!x]/*"},
		{in: "users", err: "path glob"},
		{in: "/a/[b", err: "not a valid glob"},
		{in: "/a b/*", err: "not allowed"},
		{in: "/a/*#frag", err: "not allowed"},
		{in: "/a/../*", err: "segments"},
		{in: "*.example.com/a/*", err: "host cannot be a glob"},
		{in: "https:///a/*", err: "no host"},
	} {
		got, err := PatternScope(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("PatternScope(%q) = %q, %v; want an error saying %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("PatternScope(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestQuotedGlobMatchesOnlyItsLiteralValue(t *testing.T) {
	for _, v := range []string{"*", "**", "a%3Fb", "[x]", "[!a]*", "plain"} {
		p, err := CompilePattern("/users/" + glob.Quote(v) + "/**")
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if !p.Matches("h.example/users/" + v + "/a") {
			t.Errorf("quoted %q does not match itself", v)
		}
		if p.Matches("h.example/users/42/a") || p.Matches("h.example/users/xyz/a") {
			t.Errorf("quoted %q matches other users: a value widened the pattern", v)
		}
	}
}

func TestRouteCapturesMatchOneSegmentAndLeaveOtherPathsAsTheyWere(t *testing.T) {
	for _, tc := range []struct {
		path    string
		matches []string
		not     []string
	}{
		{"/posts/{id}", []string{"/posts/42", "/posts/a%2Fb"}, []string{"/posts/", "/posts/42/x", "/posts"}},
		{"/users/{user}/**", []string{"/users/42/a", "/users/42/b/c"}, []string{"/users/42", "/users//a"}},
		// A "{" that names no capture is a literal, and a plain path stays a prefix.
		{"/a{b", []string{"/a{b", "/a{b/c"}, []string{"/a"}},
		{"/x/{}/", []string{"/x/{}/y"}, []string{"/x/y/"}},
	} {
		rt := &Route{Route: config.Route{Name: "r", Match: config.Match{Path: tc.path}}}
		for _, p := range tc.matches {
			if _, ok := rt.matchesTarget("h.example", p, "GET"); !ok {
				t.Errorf("route %q does not match %q", tc.path, p)
			}
		}
		for _, p := range tc.not {
			if _, ok := rt.matchesTarget("h.example", p, "GET"); ok {
				t.Errorf("route %q matches %q", tc.path, p)
			}
		}
	}
}

func TestEveryPatternScopeAcceptsCompilesAndMatchesAsWritten(t *testing.T) {
	// A scope value that does not compile is read by every instance as a
	// purge of everything (purge.marks.uncompiled): what PatternScope
	// accepts must compile.
	for _, c := range []struct{ pattern, match, miss string }{
		{"/a/[!]]x", "/a/bx", "/a/]x"},
		{"/a/[^]]x", "/a/bx", "/a/]x"},
		{"/a/[]]x", "/a/]x", "/a/bx"},
	} {
		v, err := PatternScope(c.pattern)
		if err != nil {
			t.Errorf("PatternScope(%q): %v", c.pattern, err)
			continue
		}
		p, err := CompilePattern(v)
		if err != nil {
			t.Errorf("PatternScope(%q) = %q, which does not compile: %v", c.pattern, v, err)
			continue
		}
		if !p.Matches("h"+c.match) || p.Matches("h"+c.miss) {
			t.Errorf("%q (%q): matches %s %v, %s %v; want true, false", c.pattern, v, c.match, p.Matches("h"+c.match), c.miss, p.Matches("h"+c.miss))
		}
	}
}

func TestAPatternWithAnEncodedDotSegmentIsRefusedLikeAPlainOne(t *testing.T) {
	for _, p := range []string{"/a/%2e%2e/*", "/a/%2E/*", "example.com/%2e%2E/b"} {
		if v, err := PatternScope(p); err == nil {
			t.Errorf("PatternScope(%q) = %q, want refused: keys resolve dot segments, so it would purge nothing", p, v)
		}
	}
}
