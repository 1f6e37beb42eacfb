package admin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/purge"
)

func webhookAPI(t *testing.T) (*Purges, *purge.Local, *policy.Rules) {
	t.Helper()
	parsed, err := config.Parse("test.yaml", []byte(`
origin: http://127.0.0.1:9
webhooks:
  - name: cms
    secret: s3cret
    timestamp_header: X-Timestamp
    tolerance: 5m
    tags: ["post:{{.entry.id}}", "post:list"]
    urls: ["https://example.com/blog/{{.entry.slug}}"]
    patterns: ["example.com/authors/{{.entry.author}}/**"]
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := policy.Compile(parsed)
	if err != nil {
		t.Fatal(err)
	}
	l := purge.NewLocal()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	return &Purges{Purger: l, Config: func() *policy.Rules { return cfg }, Log: discardLog(), Now: func() time.Time { return now }}, l, cfg
}

func sign(secret, ts, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func TestWebhookPurgesWhatItsTemplatesName(t *testing.T) {
	api, l, cfg := webhookAPI(t)
	ctx := context.Background()
	post := entryFor(t, cfg, "https://example.com/blog/hello", l.FillSeq(ctx), "post:42")
	list := entryFor(t, cfg, "https://example.com/", l.FillSeq(ctx), "post:list")
	other := entryFor(t, cfg, "https://example.com/blog/other", l.FillSeq(ctx), "post:7")
	author := entryFor(t, cfg, "https://example.com/authors/ann/page/2", l.FillSeq(ctx))
	body := `{"event":"entry.publish","entry":{"id":42,"slug":"hello","author":"ann"},"model":"post"}`
	ts := strconv.FormatInt(api.now().Unix(), 10)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/cms", strings.NewReader(body))
	req.SetPathValue("name", "cms")
	req.Header.Set("X-Signature", sign("s3cret", ts, body))
	req.Header.Set("X-Timestamp", ts)
	w := httptest.NewRecorder()
	api.ServeWebhook(w, req)
	if w.Code != 200 {
		t.Fatalf("webhook: %d %s", w.Code, w.Body)
	}
	if l.Check(ctx, post) != purge.Purged || l.Check(ctx, list) != purge.Purged || l.Check(ctx, other) != purge.Valid {
		t.Errorf("after the webhook: post %v list %v other %v; want purged, purged, valid",
			l.Check(ctx, post), l.Check(ctx, list), l.Check(ctx, other))
	}
	if v := l.Check(ctx, author); v != purge.Purged {
		t.Errorf("the author's pages after the webhook's pattern: %v, want purged", v)
	}
}

func TestWebhookRefusesAndPurgesNothing(t *testing.T) {
	body := `{"entry":{"id":42,"slug":"hello"}}`
	api, _, _ := webhookAPI(t)
	now := api.now()
	ts := strconv.FormatInt(now.Unix(), 10)
	old := strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10)
	rows := []struct {
		name, body, sig, ts string
		status              int
		says                string
	}{
		{"bad signature", body, sign("wrong", ts, body), ts, 401, "does not match"},
		{"signature of another body", body, sign("s3cret", ts, body+" "), ts, 401, "does not match"},
		{"no signature", body, "", ts, 401, "no signature"},
		{"expired timestamp", body, sign("s3cret", old, body), old, 401, "tolerance"},
		{"timestamp replaced", body, sign("s3cret", old, body), ts, 401, "does not match"},
		{"malformed JSON", `{"entry":`, sign("s3cret", ts, `{"entry":`), ts, 400, "not one JSON value"},
		{"payload without the fields", `{"x":1}`, sign("s3cret", ts, `{"x":1}`), ts, 400, "webhook cms"},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			api, l, _ := webhookAPI(t)
			req := httptest.NewRequest(http.MethodPost, "/webhooks/cms", strings.NewReader(r.body))
			req.SetPathValue("name", "cms")
			req.Header.Set("X-Signature", r.sig)
			req.Header.Set("X-Timestamp", r.ts)
			w := httptest.NewRecorder()
			api.ServeWebhook(w, req)
			if w.Code != r.status || !strings.Contains(w.Body.String(), r.says) {
				t.Errorf("got %d %q, want %d saying %q", w.Code, w.Body.String(), r.status, r.says)
			}
			if seq := l.FillSeq(context.Background()); seq != 0 {
				t.Errorf("a refused webhook purged (sequence %d)", seq)
			}
		})
	}
}
