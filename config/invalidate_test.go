package config

import (
	"strings"
	"testing"
)

func TestValidateRefusesInvalidationRulesThatCannotWorkWithFileAndLine(t *testing.T) {
	for _, tc := range []struct{ config, want string }{
		{"routes:\n  - name: post\n    match: {path: \"/posts/{id}\"}\n    invalidate:\n      - urls: [\"/authors/{author}\"]\n",
			`cfg.yaml:6: routes[0].invalidate[0].urls[0]: {author} is not captured by routes[0].match.path "/posts/{id}" (it captures id; every route has host, path and query.NAME)`},
		{"routes:\n  - name: post\n    match: {path: /posts/}\n    invalidate:\n      - tags: [\"post-{id}\"]\n",
			`cfg.yaml:6: routes[0].invalidate[0].tags[0]: {id} is not captured by routes[0].match.path "/posts/" (it captures nothing; every route has host, path and query.NAME)`},
		{"routes:\n  - name: user\n    match: {path: \"/users/{user}/**\"}\n    invalidate:\n      - patterns: [\"/users/{user}/[a-\"]\n",
			`cfg.yaml:6: routes[0].invalidate[0].patterns[0]: invalid pattern "/users/x/[a-": "[" without its "]"`},
		{"routes:\n  - name: list\n    match: {path: /posts/, methods: [GET, HEAD]}\n    invalidate:\n      - urls: [\"/\"]\n",
			`cfg.yaml:6: routes[0].invalidate[0]: the route matches only safe methods (GET, HEAD)`},
		{"routes:\n  - name: post\n    match: {path: /posts/, methods: [PUT]}\n    invalidate:\n      - methods: [GET]\n        urls: [\"/\"]\n",
			`cfg.yaml:6: routes[0].invalidate[0].methods[0]: must be one of POST, PUT, PATCH, DELETE, got "GET"`},
		{"routes:\n  - name: post\n    match: {path: /posts/, methods: [PUT]}\n    invalidate:\n      - methods: [DELETE]\n        urls: [\"/\"]\n",
			`cfg.yaml:6: routes[0].invalidate[0].methods[0]: the route does not match DELETE (match.methods: PUT)`},
		{"routes:\n  - name: post\n    match: {path: /posts/}\n    invalidate:\n      - soft: true\n",
			`cfg.yaml:6: routes[0].invalidate[0]: rule purges nothing`},
		{"routes:\n  - name: post\n    match: {path: \"/posts/{id}\"}\n    invalidate:\n      - urls: [\"posts/{id}\"]\n",
			`cfg.yaml:6: routes[0].invalidate[0].urls[0]: must be a path starting with "/" or an absolute http or https URL, got "posts/x"`},
		{"routes:\n  - name: post\n    match: {path: /posts/}\n    invalidate:\n      - tags: [\"q-{query.}\"]\n",
			`cfg.yaml:6: routes[0].invalidate[0].tags[0]: invalid template "q-{query.}": {query.} is not a variable`},
		{"routes:\n  - name: post\n    match: {path: \"/posts/{id}\"}\n    invalidate:\n      - urls: [\"/posts/{id\"]\n",
			`cfg.yaml:6: routes[0].invalidate[0].urls[0]: invalid template "/posts/{id": a "{" without its "}"`},
		{"routes:\n  - name: post\n    match: {path: \"/posts/{id}.html\"}\n",
			`cfg.yaml:4: routes[0].match.path: invalid pattern "/posts/{id}.html": capture {id} must be a whole path segment`},
		{"routes:\n  - name: post\n    match: {path: \"/a/{id}/b/{id}\"}\n",
			`cfg.yaml:4: routes[0].match.path: invalid pattern "/a/{id}/b/{id}": capture {id} is named twice`},
	} {
		got := parseErr(t, "origin: http://o\n"+tc.config)
		wantLines(t, got, tc.want)
	}
}

func TestValidInvalidationRulesAreAccepted(t *testing.T) {
	_, err := Parse("cfg.yaml", []byte(`origin: http://o
routes:
  - name: post
    match: {path: "/authors/{author}/posts/{id}", methods: [GET, PUT, DELETE]}
    invalidate:
      - urls: ["/", "/authors/{author}", "https://{host}/posts/{id}"]
        prefixes: ["/feeds/{author}/"]
        patterns: ["/users/{author}/**", "{host}/a/*/{id}"]
        tags: ["post-{id}", "q-{query.q}"]
      - urls: ["{path}/comments"]
      - methods: [DELETE]
        soft: true
        tags: [categories]
`))
	if err != nil {
		t.Fatal(err)
	}
}

func TestARulePatternThatIsAPathPrefixIsAWarningNamingPrefixes(t *testing.T) {
	cfg, err := Parse("cfg.yaml", []byte("origin: http://o\nroutes:\n  - name: user\n    match: {path: \"/users/{user}/**\"}\n    invalidate:\n"+
		"      - patterns: [\"/users/{user}/**\", \"/users/{user}/*/posts\", \"/a/*/**\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 {
		t.Fatalf("warnings %v, want one, for the prefix pattern only", cfg.Warnings)
	}
	want := `cfg.yaml:6: routes[0].invalidate[0].patterns[0]: "/users/{user}/**" is a path prefix: write "/users/{user}/" under prefixes`
	if got := cfg.Warnings[0].In("cfg.yaml"); !strings.HasPrefix(got, want) {
		t.Errorf("warning %q, want it to start with %q", got, want)
	}
}
