package policy

import (
	"slices"
	"strings"
	"testing"
)

func TestAPurgePrefixIsNormalizedAsKeysAreWithoutAFakeURL(t *testing.T) {
	rows := []struct {
		prefix string
		want   []string
	}{
		{"/blog/", []string{"/blog/"}},
		{"/blog", []string{"/blog", "/blog/"}},
		// RFC 3986 §6.2.2: escapes of unreserved characters decoded, dot
		// segments resolved, as in NewTarget.
		{"/%7eblog/./a/../", []string{"/~blog/"}},
		{"/%2e%2e/blog/", []string{"/blog/"}},
		// A path that starts with "//" is a path, not a host.
		{"//a.example/blog/", []string{"//a.example/blog/"}},
		{"HTTP://A.Example.:80/blog/", []string{"a.example/blog/"}},
		{"https://a.example:8443/blog", []string{"a.example:8443/blog", "a.example:8443/blog/"}},
	}
	for _, r := range rows {
		got, err := PrefixScopes(r.prefix)
		if err != nil || !slices.Equal(got, r.want) {
			t.Errorf("PrefixScopes(%q) = %q, %v; want %q", r.prefix, got, err, r.want)
		}
	}
	for _, bad := range []string{"/a?b", "/a#b", "blog/", "ftp://a.example/", "http:///blog/", "/a%zz", "http://a b/"} {
		if got, err := PrefixScopes(bad); err == nil {
			t.Errorf("PrefixScopes(%q) = %q, want an error", bad, got)
		} else if strings.Contains(err.Error(), "prefix.invalid") {
			t.Errorf("PrefixScopes(%q): the error names a fake URL: %v", bad, err)
		}
	}
}
