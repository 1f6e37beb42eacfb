package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/purge"
)

// TestEveryPurgeIsLoggedOnceWithItsSourceAndListedByGETPurges purges
// through every door (the admin API behind a trusted proxy, a webhook,
// PURGE, an unsafe request, a cache-group invalidation) and finds each in
// the log exactly once, as one "purge" line naming its source and
// scopes, and in GET /purges, newest first, with the marks in force.
func TestEveryPurgeIsLoggedOnceWithItsSourceAndListedByGETPurges(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Cache-Group-Invalidation", `"articles"`)
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Cache-Groups", `"articles"`)
		io.WriteString(w, r.URL.Path)
	}))
	t.Cleanup(o.Close)
	in := startInstance(t, setup{origin: o.URL, backend: "tiered", prefix: testutil.UniquePrefix(t), extra: `trusted_proxies: ["127.0.0.1"]
webhooks:
  - name: cms
    secret: s3cret
    tags: ["post:{{.id}}"]
`})
	in.get("/page") // stored: the POST below has something to invalidate

	// The admin API, reached through a trusted proxy: the caller is the
	// address the proxy names.
	req, _ := http.NewRequest(http.MethodPost, in.AdminURL+"/purge", strings.NewReader(`{"tags":["a"],"soft":true}`))
	req.Header.Set("Authorization", "Bearer test-token")
	req.Header.Set("X-Forwarded-For", "203.0.113.7, 127.0.0.1")
	mustOK(t, "POST /purge", req)

	body := `{"id":42}`
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write([]byte(body))
	req, _ = http.NewRequest(http.MethodPost, in.AdminURL+"/webhooks/cms", strings.NewReader(body))
	req.Header.Set("X-Signature", hex.EncodeToString(mac.Sum(nil)))
	mustOK(t, "the webhook", req)

	in.do("PURGE", "/other", http.Header{"Authorization": {"Bearer test-token"}})
	in.do(http.MethodPost, "/page", nil)

	want := []struct{ source, by, scope string }{
		{purge.SourceUnsafe, "POST site.test/page", "url:site.test/page"},
		{purge.SourceCacheGroup, "POST site.test/page", "group:site.test articles"},
		{purge.SourcePURGE, "127.0.0.1", "url:site.test/other"},
		{purge.SourceWebhook, "cms", "tag:post:42"},
		{purge.SourceAPI, "203.0.113.7", "tag:a"},
	}
	for _, w := range want {
		line := fmt.Sprintf(`msg=purge source=%s by=%q`, w.source, w.by)
		if w.by == "cms" || !strings.ContainsAny(w.by, " ") {
			line = fmt.Sprintf(`msg=purge source=%s by=%s`, w.source, w.by)
		}
		in.waitLog(line)
		if n := strings.Count(in.log.String(), line); n != 1 {
			t.Errorf("%d lines %q in the log, want exactly 1", n, line)
		}
	}
	if n := strings.Count(in.log.String(), "msg=purge "); n != len(want) {
		t.Errorf("%d purge lines in the log, want %d (one per purge):\n%s", n, len(want), in.log.String())
	}

	resp, answer := in.admin(http.MethodGet, "/purges")
	var got struct {
		ActiveMarks *int           `json:"active_marks"`
		Purges      []purge.Record `json:"purges"`
	}
	if err := json.Unmarshal([]byte(answer), &got); resp.StatusCode != 200 || err != nil {
		t.Fatalf("GET /purges: %d %v %s", resp.StatusCode, err, answer)
	}
	if len(got.Purges) != len(want) {
		t.Fatalf("GET /purges lists %d purges, want %d: %s", len(got.Purges), len(want), answer)
	}
	for i, w := range want {
		p := got.Purges[i]
		if p.Source.Kind != w.source || p.Source.By != w.by || len(p.Scopes) != 1 || !strings.HasPrefix(p.Scopes[0], w.scope) || p.Result != "applied" {
			t.Errorf("GET /purges [%d] = %+v, want source %s by %s, scope %s…, applied (newest first)", i, p, w.source, w.by, w.scope)
		}
		if p.Time.IsZero() || time.Since(p.Time) > time.Hour {
			t.Errorf("GET /purges [%d] has time %v", i, p.Time)
		}
	}
	if !got.Purges[4].Soft || got.Purges[4].Seq == 0 {
		t.Errorf("the API purge is listed as %+v, want soft with its sequence", got.Purges[4])
	}
	// The recreated state's "all", tag a, tag post:42, two URLs, the group.
	if got.ActiveMarks == nil || *got.ActiveMarks < 5 {
		t.Errorf("active_marks = %v, want the marks in force (at least 5): %s", got.ActiveMarks, answer)
	}
	req, _ = http.NewRequest(http.MethodGet, in.AdminURL+"/purges", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("GET /purges without the token: %v %v, want 401", resp, err)
	}
	_, metrics := in.admin(http.MethodGet, "/metrics")
	for _, w := range want {
		if s := fmt.Sprintf(`cachegate_purge_operations_total{source=%q} 1`, w.source); !strings.Contains(metrics, s) {
			t.Errorf("/metrics lacks %s", s)
		}
	}
}

// mustOK sends req and fails the test unless it answers 200.
func mustOK(t *testing.T, what string, req *http.Request) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", what, resp.StatusCode, b)
	}
}
