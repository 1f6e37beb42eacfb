package policy

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

const ruleConfig = `origin: http://o
routes:
  - name: user
    match: {path: "/users/{user}/**"}
    invalidate:
      - urls: ["/users/{user}", "/search/{query.q}"]
        prefixes: ["/feeds/{user}/", "/lists/{query.list}/"]
        patterns: ["/users/{user}/*/posts", "/search/{query.q}/*", "{path}/*"]
        tags: ["user-{user}", "q-{query.q}"]
      - methods: [DELETE]
        soft: true
        tags: [users]
`

// rendered renders the rules of the route of method target for it.
func rendered(t *testing.T, method, target string) ([]Invalidation, []error) {
	t.Helper()
	c := mustParse(t, ruleConfig)
	r := httptest.NewRequest(method, target, nil)
	r.Host = "Site.Example"
	return c.Invalidations(c.Route(r), r, NewTarget(r, "https"))
}

func TestRuleTemplatesRenderCapturesHostPathAndQuery(t *testing.T) {
	invs, errs := rendered(t, "PUT", "/users/ann%7e/profile?q=go%2Flang&list=top")
	if len(errs) > 0 || len(invs) != 1 {
		t.Fatalf("PUT: %d invalidations, errors %v; want 1 and none (the DELETE rule does not apply)", len(invs), errs)
	}
	inv := invs[0]
	want := Invalidation{
		URLs:     []string{"site.example/users/ann~", "site.example/search/go%2Flang"},
		Prefixes: []string{"site.example/feeds/ann~/", "site.example/lists/top/"},
		Patterns: []string{"site.example/users/ann~/*/posts", "site.example/search/go%2Flang/*", "site.example/users/ann~/profile/*"},
		Tags:     []string{"user-ann~", "q-go/lang"},
	}
	for _, f := range []struct {
		name      string
		got, want []string
	}{{"urls", inv.URLs, want.URLs}, {"prefixes", inv.Prefixes, want.Prefixes}, {"patterns", inv.Patterns, want.Patterns}, {"tags", inv.Tags, want.Tags}} {
		if !slices.Equal(f.got, f.want) {
			t.Errorf("%s = %q, want %q", f.name, f.got, f.want)
		}
	}
	if invs, _ := rendered(t, "DELETE", "/users/ann/x"); len(invs) != 2 || !invs[1].Soft {
		t.Errorf("DELETE: %d invalidations, want both rules, the second soft", len(invs))
	}
	if invs, _ := rendered(t, "GET", "/users/ann/x"); len(invs) != 0 {
		t.Errorf("GET: %d invalidations, want none (a safe method)", len(invs))
	}
}

func TestRequestValuesCannotWidenWhatARulePurges(t *testing.T) {
	for _, target := range []string{
		"/users/*/x?q=*&list=*",
		"/users/**/x?q=a/../../b&list=..%2F..",
		"/users/[a-z]/x?q=%2A&list=a/b",
		"/users/a%2Fb/x?q=a?b&list=%00",
	} {
		invs, _ := rendered(t, "PUT", target)
		for _, inv := range invs {
			for _, p := range inv.Patterns {
				pat, err := CompilePattern(p)
				if err != nil {
					t.Fatalf("%s: pattern %q: %v", target, p, err)
				}
				for _, victim := range []string{"site.example/users/42/x/posts", "site.example/search/go/1", "site.example/users/42/x/y"} {
					if pat.Matches(victim) {
						t.Errorf("PUT %s: pattern %q purges %s", target, p, victim)
					}
				}
			}
			for _, v := range append(inv.URLs, inv.Prefixes...) {
				if strings.Count(v, "/") > 3 || strings.Contains(v, "?") || v == "site.example/lists/" {
					t.Errorf("PUT %s: a request value added segments or a query, or emptied a prefix: %q", target, v)
				}
			}
		}
	}
}

func TestAMissingOrEmptyQueryValueLeavesItsTemplateOut(t *testing.T) {
	invs, errs := rendered(t, "PUT", "/users/ann/x?q=")
	if len(invs) != 1 {
		t.Fatalf("%d invalidations", len(invs))
	}
	if slices.Contains(invs[0].Prefixes, "site.example/lists/") || slices.ContainsFunc(invs[0].URLs, func(u string) bool { return strings.HasSuffix(u, "/search/") }) {
		t.Errorf("an empty or missing parameter rendered a wider scope: %+v", invs[0])
	}
	if len(errs) != 4 { // {query.q} in a URL, a pattern and a tag; {query.list} in a prefix
		t.Errorf("errors %v, want the 4 templates left out named", errs)
	}
	if !slices.Contains(invs[0].URLs, "site.example/users/ann") {
		t.Errorf("the rest of the rule was not purged: %+v", invs[0])
	}
}

func TestAQueryValueThatIsADotSegmentCannotClimbOutOfItsTemplate(t *testing.T) {
	for _, target := range []string{"/users/ann/x?q=..&list=..", "/users/ann/x?q=%2E%2E&list=%2e", "/users/ann/x?q=.&list=."} {
		invs, errs := rendered(t, "PUT", target)
		if len(invs) != 1 {
			t.Fatalf("%s: %d invalidations", target, len(invs))
		}
		for _, v := range append(invs[0].URLs, invs[0].Prefixes...) {
			if v == "site.example/" || v == "site.example/search" || v == "site.example/lists/" || v == "/" || !strings.HasPrefix(v, "site.example/users/") && !strings.HasPrefix(v, "site.example/feeds/") {
				t.Errorf("PUT %s: the query value resolved as a dot segment and purges %q", target, v)
			}
		}
		if len(errs) < 2 {
			t.Errorf("PUT %s: errors %v, want the URL and prefix templates of the dot value left out", target, errs)
		}
	}
}
