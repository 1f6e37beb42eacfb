package admin

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/purge"
)

// ServeWebhook handles POST /webhooks/{name}: a CMS's signed JSON payload
// turned into a purge by the webhook's templates (policy.Webhook.Render).
//
// The signature is the hex HMAC-SHA256, under the webhook's secret, of the
// body, or, when the webhook names a timestamp header, of the timestamp,
// a ".", and the body (so that the timestamp cannot be replaced); it may
// carry a "sha256=" prefix (GitHub style). The timestamp is Unix seconds
// and must be within the tolerance of now (replay protection). A bad
// signature, an old timestamp or a payload that is not JSON is refused
// and purges nothing.
func (p *Purges) ServeWebhook(w http.ResponseWriter, r *http.Request) {
	cfg := p.Config()
	hook := findWebhook(cfg, r.PathValue("name"))
	if hook == nil {
		http.Error(w, "no such webhook\n", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		badRequest(w, "the body could not be read or is over %d bytes", maxBody)
		return
	}
	if msg := verify(hook, r.Header, body, p.now()); msg != "" {
		p.Log.Warn("webhook refused", "webhook", hook.Name, "reason", msg)
		http.Error(w, "webhook refused: "+msg+"\n", http.StatusUnauthorized)
		return
	}
	var payload any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&payload); err != nil || dec.More() {
		badRequest(w, "the payload is not one JSON value: %v", err)
		return
	}
	tags, urls, prefixes, err := hook.Render(payload)
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	patterns, err := hook.RenderPatterns(payload)
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	scopes, purged, err := scopesOf(cfg, PurgeRequest{Tags: tags, URLs: urls, Prefixes: prefixes, Patterns: patterns, Soft: hook.Soft})
	if err != nil {
		badRequest(w, "webhook %s: %v", hook.Name, err)
		return
	}
	r = withSource(r, purge.SourceWebhook, hook.Name)
	p.purge(w, r, scopes, purged, hook.Soft)
}

func findWebhook(cfg *policy.Rules, name string) *config.Webhook {
	for i := range cfg.Webhooks {
		if cfg.Webhooks[i].Name == name {
			return &cfg.Webhooks[i]
		}
	}
	return nil
}

// verify checks the signature (in constant time) and the timestamp; it
// returns why the request is refused, or "".
func verify(hook *config.Webhook, h http.Header, body []byte, now time.Time) string {
	sig := strings.TrimPrefix(strings.TrimSpace(h.Get(hook.SignatureHeader)), "sha256=")
	if sig == "" {
		return "no signature in " + hook.SignatureHeader
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return "the signature is not hex"
	}
	mac := hmac.New(sha256.New, []byte(hook.Secret))
	if hook.TimestampHeader != "" {
		ts := strings.TrimSpace(h.Get(hook.TimestampHeader))
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return "no valid Unix timestamp in " + hook.TimestampHeader
		}
		if d := now.Sub(time.Unix(sec, 0)); d > hook.Tolerance.D() || d < -hook.Tolerance.D() {
			return fmt.Sprintf("the timestamp is %v away from now, more than the tolerance of %v", d.Round(time.Second), hook.Tolerance)
		}
		mac.Write([]byte(ts + "."))
	}
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return "the signature does not match"
	}
	return ""
}
