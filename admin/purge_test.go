package admin

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/store"
)

func discardLog() *slog.Logger { return testutil.DiscardLogger() }

func testConfig(t *testing.T) *policy.Rules {
	t.Helper()
	parsed, err := config.Parse("test.yaml", []byte(`
origin: http://127.0.0.1:9
admin: {token: secret}
routes:
  - name: blog
    match: {path: /blog/}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := policy.Compile(parsed)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// entryFor is an entry as the proxy stores it for rawURL, filled at seq.
func entryFor(t *testing.T, cfg *policy.Rules, rawURL string, seq uint64, tags ...string) *store.Entry {
	t.Helper()
	key, rt, err := cfg.KeyForURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return &store.Entry{Key: key.String(), URL: key.URL(), Route: rt.Name, Host: policy.HostName(key.Host), Tags: tags, Status: 200, Seq: seq}
}

func TestPurgeScopesTouchOnlyTheirEntries(t *testing.T) {
	cfg := testConfig(t)
	rows := []struct {
		name    string
		req     PurgeRequest
		purged  []string
		spared  []string
		tagsFor map[string][]string
	}{
		{name: "prefix /blog/ takes whole segments",
			req:    PurgeRequest{Prefixes: []string{"/blog/"}},
			purged: []string{"http://a.example/blog/a", "http://b.example/blog/a/b", "http://a.example/blog/"},
			spared: []string{"http://a.example/blogger", "http://a.example/blog", "http://a.example/x/blog/a"}},
		{name: "prefix without trailing slash is the segment and below",
			req:    PurgeRequest{Prefixes: []string{"/blog"}},
			purged: []string{"http://a.example/blog", "http://a.example/blog/a"},
			spared: []string{"http://a.example/blogger"}},
		{name: "prefix on one host",
			req:    PurgeRequest{Prefixes: []string{"http://A.example/blog/"}},
			purged: []string{"http://a.example/blog/a"},
			spared: []string{"http://b.example/blog/a"}},
		{name: "host",
			req:    PurgeRequest{Hosts: []string{"A.example"}},
			purged: []string{"http://a.example/x", "https://a.example/y?z=1"},
			spared: []string{"http://b.example/x"}},
		{name: "route",
			req:    PurgeRequest{Routes: []string{"blog"}},
			purged: []string{"http://a.example/blog/x"},
			spared: []string{"http://a.example/shop/x"}},
		{name: "url takes every variant, query normalized",
			req:    PurgeRequest{URLs: []string{"http://a.example/p?b=2&a=1"}},
			purged: []string{"http://a.example/p?a=1&b=2"},
			spared: []string{"http://a.example/p", "http://a.example/p?a=1"}},
		{name: "tags are compared exactly",
			req:     PurgeRequest{Tags: []string{"a"}},
			purged:  []string{"http://a.example/1"},
			spared:  []string{"http://a.example/2", "http://a.example/3"},
			tagsFor: map[string][]string{"http://a.example/1": {"x", "a"}, "http://a.example/2": {"ab"}, "http://a.example/3": {"a-b", "A"}}},
		{name: "pattern on every host: * within a segment, ** across segments",
			req:    PurgeRequest{Patterns: []string{"/users/42/**"}},
			purged: []string{"http://a.example/users/42/a", "http://b.example/users/42/b/c?x=1"},
			spared: []string{"http://a.example/users/421/a", "http://a.example/users/4/a"}},
		{name: "pattern on one host",
			req:    PurgeRequest{Patterns: []string{"https://A.example/api/users/*/posts"}},
			purged: []string{"http://a.example/api/users/7/posts"},
			spared: []string{"http://b.example/api/users/7/posts", "http://a.example/api/users/7/posts/1"}},
		{name: "all",
			req:    PurgeRequest{All: true},
			purged: []string{"http://a.example/1", "http://b.example/blog/2"}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			l := purge.NewLocal()
			ctx := context.Background()
			seq := l.FillSeq(ctx)
			scopes, _, err := scopesOf(cfg, r.req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.Purge(ctx, scopes, false); err != nil {
				t.Fatal(err)
			}
			for _, u := range r.purged {
				if v := l.Check(ctx, entryFor(t, cfg, u, seq, r.tagsFor[u]...)); v != purge.Purged {
					t.Errorf("%s: validity %v, want purged", u, v)
				}
			}
			for _, u := range r.spared {
				if v := l.Check(ctx, entryFor(t, cfg, u, seq, r.tagsFor[u]...)); v != purge.Valid {
					t.Errorf("%s: validity %v, want untouched", u, v)
				}
			}
			// A fill that started after the purge is valid.
			for _, u := range r.purged {
				if v := l.Check(ctx, entryFor(t, cfg, u, l.FillSeq(ctx), r.tagsFor[u]...)); v != purge.Valid {
					t.Errorf("%s filled after the purge: validity %v, want valid", u, v)
				}
			}
		})
	}
}

func TestPurgeAPIRefusesBadRequests(t *testing.T) {
	cfg := testConfig(t)
	api := &Purges{Purger: purge.NewLocal(), Config: func() *policy.Rules { return cfg }, Log: discardLog()}
	rows := []struct {
		name, token, body string
		status            int
		says              string
	}{
		{"no token", "", `{"all":true}`, 401, "bearer token"},
		{"wrong token", "nope", `{"all":true}`, 401, "bearer token"},
		{"malformed JSON", "secret", `{"tags":[`, 400, "invalid JSON"},
		{"unknown field", "secret", `{"tag":["a"]}`, 400, `unknown field "tag"`},
		{"nothing to purge", "secret", `{}`, 400, "nothing to purge"},
		{"relative URL", "secret", `{"urls":["/a"]}`, 400, "absolute http or https URL"},
		{"prefix with query", "secret", `{"prefixes":["/a?b"]}`, 400, "without query"},
		{"host with port", "secret", `{"hosts":["a.example:80"]}`, 400, "without port"},
		{"unknown route", "secret", `{"routes":["shop"]}`, 400, "not a route"},
		{"tag with a space", "secret", `{"tags":["a b"]}`, 400, "no spaces"},
		{"pattern not a glob", "secret", `{"patterns":["/a/[b"]}`, 400, `patterns: "/a/[b": not a valid glob`},
		{"pattern without path", "secret", `{"patterns":["users"]}`, 400, "need a path glob"},
		{"pattern with a fragment", "secret", `{"patterns":["/a/*#x"]}`, 400, "without fragment"},
		{"good", "secret", `{"tags":["a"],"soft":true}`, 200, `"seq":1`},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/purge", strings.NewReader(r.body))
			if r.token != "" {
				req.Header.Set("Authorization", "Bearer "+r.token)
			}
			w := httptest.NewRecorder()
			api.ServePurge(w, req)
			if w.Code != r.status || !strings.Contains(w.Body.String(), r.says) {
				t.Errorf("got %d %q, want %d saying %q", w.Code, w.Body.String(), r.status, r.says)
			}
		})
	}
}

func TestAPurgeOfEverythingAnswersAllTrueNotAnEmptyList(t *testing.T) {
	cfg := testConfig(t)
	api := &Purges{Purger: purge.NewLocal(), Config: func() *policy.Rules { return cfg }, Log: discardLog()}
	req := httptest.NewRequest(http.MethodPost, "/purge", strings.NewReader(`{"all":true,"tags":["a"]}`))
	req.Header.Set("Authorization", "Bearer secret")
	w := httptest.NewRecorder()
	api.ServePurge(w, req)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"purged":{"all":true,"tags":["a"]}`) {
		t.Fatalf("got %d %s, want purged saying \"all\":true beside the tags", w.Code, w.Body.String())
	}
	var answer PurgeResponse
	if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
		t.Fatalf("the answer does not decode into PurgeResponse: %v", err)
	}
	if _, all := answer.Purged["all"]; !all || len(answer.Purged["tags"]) != 1 {
		t.Errorf("decoded purged = %v, want all and the tag", answer.Purged)
	}
}

func TestAPatternPurgeOverTheBoundIsWidenedVisibly(t *testing.T) {
	cfg := testConfig(t)
	l := purge.NewLocal()
	l.SetPatternLimit(1)
	counted := map[string]int{}
	logs := &testutil.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	api := &Purges{Purger: purge.NewAudited(l, log, nil), Config: func() *policy.Rules { return cfg }, Log: log,
		OnPurge: func(kind string, n int) { counted[kind] += n }}
	ctx := context.Background()
	seq := l.FillSeq(ctx)
	send := func(body string) string {
		req := httptest.NewRequest(http.MethodPost, "/purge", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer secret")
		w := httptest.NewRecorder()
		api.ServePurge(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("POST /purge %s: %d %s", body, w.Code, w.Body)
		}
		return w.Body.String()
	}
	if answer := send(`{"patterns":["/users/1/*"]}`); strings.Contains(answer, "widened") {
		t.Fatalf("the first pattern, within the bound, was widened: %s", answer)
	}
	answer := send(`{"patterns":["https://a.example/users/2/*"]}`)
	if !strings.Contains(answer, `"widened":["a.example/users/2/*"]`) {
		t.Errorf("the answer does not name the widened pattern: %s", answer)
	}
	if counted["widened_patterns"] != 1 {
		t.Errorf("widened_patterns counted %d, want 1", counted["widened_patterns"])
	}
	if !strings.Contains(logs.String(), "cache.max_pattern_purges") {
		t.Errorf("the log does not name the option to raise: %s", logs.String())
	}
	if v := l.Check(ctx, entryFor(t, cfg, "http://a.example/anything", seq)); v != purge.Purged {
		t.Errorf("an entry of the widened pattern's host is %v, want purged", v)
	}
}
