package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/purge"
)

// PurgeRequest is the body of POST /purge. Every list is optional; at
// least one scope must be given.
type PurgeRequest struct {
	// URLs are absolute URLs; every variant of each is purged.
	URLs []string `json:"urls"`
	// Tags are purge tags, compared exactly.
	Tags []string `json:"tags"`
	// Prefixes are paths ("/blog/", any host) or absolute URLs
	// ("https://example.com/blog/", one host). A prefix matches whole path
	// segments: "/blog/" and "/blog" purge "/blog/a", never "/blogger".
	Prefixes []string `json:"prefixes"`
	// Hosts are host names, without port.
	Hosts []string `json:"hosts"`
	// Routes are route names of the config.
	Routes []string `json:"routes"`
	// Patterns are path globs ("/users/42/**": * within a segment, **
	// across segments, ? and [...] one character, as in route matches)
	// on every host, or on one host ("example.com/users/*/posts",
	// "https://example.com/users/*/posts"); see policy.PatternScope.
	Patterns []string `json:"patterns"`
	// All purges everything.
	All bool `json:"all"`
	// Soft makes entries stale instead of invalid: they are served while
	// one refresh runs.
	Soft bool `json:"soft"`
}

// PurgeResponse is the answer to POST /purge.
type PurgeResponse struct {
	purge.Result
	Soft bool `json:"soft"`
	// Purged lists the scopes marked, as given after normalization.
	Purged PurgedScopes `json:"purged"`
}

// PurgedScopes lists the scope values marked, by request field. A purge
// of everything has no values to list: it is written "all": true, as it
// was asked, rather than an empty list that reads as "nothing".
type PurgedScopes map[string][]string

// MarshalJSON writes the lists, and "all": true for a purge of everything.
func (s PurgedScopes) MarshalJSON() ([]byte, error) {
	out := make(map[string]any, len(s))
	for field, values := range s {
		out[field] = values
	}
	if _, all := s["all"]; all {
		out["all"] = true
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *PurgedScopes) UnmarshalJSON(b []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	*s = PurgedScopes{}
	for field, raw := range fields {
		var values []string
		if field == "all" {
			var all bool
			if err := json.Unmarshal(raw, &all); err != nil {
				return fmt.Errorf("purged: all: %w", err)
			}
			if all {
				(*s)["all"] = []string{}
			}
			continue
		}
		if err := json.Unmarshal(raw, &values); err != nil {
			return fmt.Errorf("purged: %s: %w", field, err)
		}
		(*s)[field] = values
	}
	return nil
}

// maxBody bounds a purge request body and a webhook payload.
const maxBody = 1 << 20

// Purges serves the purge endpoints: POST /purge and the webhooks on the
// admin listener, and the PURGE method on the proxy listener (the proxy
// calls ServePURGE, so Purges exists before the proxy does).
type Purges struct {
	// Purger records the purges.
	Purger purge.Purger
	// Config returns the config in force (it changes on reload).
	Config func() *policy.Rules
	// Log receives the webhooks refused. The purges themselves are logged
	// by the Purger (purge.Audited), with the source each handler names.
	Log *slog.Logger
	// OnPurge, when set, is told of each purge by kind (for metrics).
	OnPurge func(kind string, n int)
	// Now is the clock for webhook timestamps. Default time.Now.
	Now func() time.Time
}

func (p *Purges) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// ServePurge handles POST /purge.
func (p *Purges) ServePurge(w http.ResponseWriter, r *http.Request) {
	cfg := p.Config()
	if !authorized(r, cfg.Admin.Token) {
		unauthorized(w, cfg.Admin.Token)
		return
	}
	var req PurgeRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		badRequest(w, "invalid JSON body: %v", err)
		return
	}
	if dec.More() {
		badRequest(w, "invalid JSON body: more than one JSON value")
		return
	}
	scopes, purged, err := scopesOf(cfg, req)
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	r = withSource(r, purge.SourceAPI, caller(cfg, r))
	p.purge(w, r, scopes, purged, req.Soft)
}

// ServePURGE handles the PURGE method on the proxy listener (as Varnish
// and Squid users expect): the request's URL is purged, soft when the
// request carries "Soft-Purge: 1". The admin token is required.
func (p *Purges) ServePURGE(w http.ResponseWriter, r *http.Request) {
	cfg := p.Config()
	if !authorized(r, cfg.Admin.Token) {
		unauthorized(w, cfg.Admin.Token)
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := *r.URL
	u.Scheme, u.Host = scheme, r.Host
	keys, err := cfg.URLKeysOfGET(&u)
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	var scopes []purge.Scope
	var urls []string
	for _, key := range keys {
		scopes = append(scopes, purge.URLScope(key))
		urls = append(urls, key.URL())
	}
	r = withSource(r, purge.SourcePURGE, caller(cfg, r))
	p.purge(w, r, scopes, map[string][]string{"urls": urls}, r.Header.Get("Soft-Purge") == "1")
}

// withSource is r carrying the purge's source for the audit
// (purge.Audited logs and records it).
func withSource(r *http.Request, kind, by string) *http.Request {
	return r.WithContext(purge.WithSource(r.Context(), purge.Source{Kind: kind, By: by}))
}

// caller is the address of the client of r, honouring trusted_proxies
// (policy.Rules.ClientAddr).
func caller(cfg *policy.Rules, r *http.Request) string {
	if addr := cfg.ClientAddr(r.Header["X-Forwarded-For"], policy.PeerAddr(r)); addr != "" {
		return addr
	}
	return r.RemoteAddr
}

// purge records the scopes and answers with what was purged. The purge is
// logged and recorded once, with the source r carries, by the Purger
// (purge.Audited, as main wires it).
func (p *Purges) purge(w http.ResponseWriter, r *http.Request, scopes []purge.Scope, purged map[string][]string, soft bool) {
	res, err := p.Purger.Purge(r.Context(), scopes, soft)
	if err != nil {
		http.Error(w, "purge failed: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	for kind, values := range purged {
		if p.OnPurge != nil {
			p.OnPurge(kind, max(len(values), 1)) // "all" has no values
		}
	}
	p.reportWidened(res.Widened)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(PurgeResponse{Result: res, Soft: soft, Purged: purged})
}

// reportWidened counts the pattern purges the purger widened to their
// host or to everything because the active patterns were at their bound
// (cache.max_pattern_purges); the audit (purge.Audited) logs them as a
// warning naming the option.
func (p *Purges) reportWidened(widened []string) {
	if len(widened) == 0 {
		return
	}
	if p.OnPurge != nil {
		p.OnPurge("widened_patterns", len(widened))
	}
}

// scopesOf turns a purge request into scopes, normalizing URLs, prefixes
// and hosts the way keys are normalized (policy builds the typed key and
// the prefix scopes; nothing here parses them back). The error says what
// is wrong; purged lists the scope values by request field.
func scopesOf(cfg *policy.Rules, req PurgeRequest) (scopes []purge.Scope, purged map[string][]string, err error) {
	purged = map[string][]string{}
	add := func(field string, s purge.Scope) {
		scopes = append(scopes, s)
		purged[field] = append(purged[field], s.Value)
	}
	if req.All {
		scopes = append(scopes, purge.Scope{Kind: purge.All})
		purged["all"] = []string{}
	}
	for _, raw := range req.URLs {
		u, err := url.Parse(raw)
		var keys []policy.Key
		if err == nil {
			keys, err = cfg.URLKeysOfGET(u)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("urls: %q: need an absolute http or https URL", raw)
		}
		for _, key := range keys {
			add("urls", purge.URLScope(key))
		}
	}
	for _, prefix := range req.Prefixes {
		values, err := policy.PrefixScopes(prefix)
		if err != nil {
			return nil, nil, fmt.Errorf("prefixes: %q: %v", prefix, err)
		}
		for _, v := range values {
			add("prefixes", purge.Scope{Kind: purge.Prefix, Value: v})
		}
	}
	for _, h := range req.Hosts {
		host, err := normalizeHost(h)
		if err != nil {
			return nil, nil, err
		}
		add("hosts", purge.Scope{Kind: purge.Host, Value: host})
	}
	for _, name := range req.Routes {
		if !routeExists(cfg, name) {
			return nil, nil, fmt.Errorf("routes: %q is not a route of the config", name)
		}
		add("routes", purge.Scope{Kind: purge.Route, Value: name})
	}
	for _, t := range req.Tags {
		if err := checkTag(t); err != nil {
			return nil, nil, err
		}
		add("tags", purge.Scope{Kind: purge.Tag, Value: t})
	}
	for _, pattern := range req.Patterns {
		v, err := policy.PatternScope(pattern)
		if err != nil {
			return nil, nil, fmt.Errorf("patterns: %q: %v", pattern, err)
		}
		add("patterns", purge.Scope{Kind: purge.Pattern, Value: v})
	}
	if len(scopes) == 0 {
		return nil, nil, errors.New(`nothing to purge: give urls, tags, prefixes, hosts, routes, patterns or "all": true`)
	}
	return scopes, purged, nil
}

// normalizeHost normalizes a host name as entries' hosts are
// (policy.HostName) and refuses ports and paths.
func normalizeHost(h string) (string, error) {
	host := strings.TrimSpace(h)
	if strings.TrimSuffix(host, ".") == "" || strings.ContainsAny(host, "/:?# \t\n") {
		if hp, _, err := net.SplitHostPort(host); err == nil && hp != "" {
			return "", fmt.Errorf("hosts: %q: give the host name without port", h)
		}
		return "", fmt.Errorf("hosts: %q: not a host name", h)
	}
	return policy.HostName(host), nil
}

func routeExists(cfg *policy.Rules, name string) bool {
	if name == cfg.DefaultRoute.Name {
		return true
	}
	for i := range cfg.Routes {
		if cfg.Routes[i].Name == name {
			return true
		}
	}
	return false
}

// checkTag refuses tags that no response header could have carried.
func checkTag(t string) error {
	if t == "" {
		return errors.New("tags: an empty tag")
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("tags: %q: tags contain no spaces or control characters", t)
		}
	}
	return nil
}

func badRequest(w http.ResponseWriter, format string, args ...any) {
	http.Error(w, "bad purge request: "+fmt.Sprintf(format, args...), http.StatusBadRequest)
}
