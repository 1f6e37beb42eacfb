package purge

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/cachegate/cachegate/policy"
)

// Request is the body of POST /purge. Every list is optional; at least
// one scope must be given.
type Request struct {
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
	// All purges everything.
	All bool `json:"all"`
	// Soft makes entries stale instead of invalid: they are served while
	// one refresh runs.
	Soft bool `json:"soft"`
}

// Response is the answer to POST /purge.
type Response struct {
	Result
	Soft bool `json:"soft"`
	// Purged lists the scopes marked, as given after normalization.
	Purged map[string][]string `json:"purged"`
}

// maxBody bounds a purge request body.
const maxBody = 1 << 20

// API serves the purge endpoints.
type API struct {
	// Purger records the purges.
	Purger Purger
	// Config returns the config in force (it changes on reload).
	Config func() *policy.Rules
	// Log receives one line per purge.
	Log *slog.Logger
	// OnPurge, when set, is told of each purge by kind (for metrics).
	OnPurge func(kind string, n int)
	// Now is the clock for webhook timestamps. Default time.Now.
	Now func() time.Time
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// ServePurge handles POST /purge.
func (a *API) ServePurge(w http.ResponseWriter, r *http.Request) {
	cfg := a.Config()
	if !authorized(r, cfg.Admin.Token) {
		unauthorized(w, cfg.Admin.Token)
		return
	}
	var req Request
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
	scopes, purged, err := Scopes(cfg, req)
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	a.purge(w, r, scopes, purged, req.Soft)
}

func (a *API) purge(w http.ResponseWriter, r *http.Request, scopes []Scope, purged map[string][]string, soft bool) {
	res, err := a.Purger.Purge(r.Context(), scopes, soft)
	if err != nil {
		a.Log.Error("purge failed", "err", err)
		http.Error(w, "purge failed: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	for kind, values := range purged {
		if a.OnPurge != nil {
			a.OnPurge(kind, max(len(values), 1)) // "all" has no values
		}
	}
	a.Log.Info("purged", "seq", res.Seq, "soft", soft, "scopes", purged, "lagging", res.Lagging)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(Response{Result: res, Soft: soft, Purged: purged})
}

// ServePURGE handles the PURGE method on the proxy listener (as Varnish
// and Squid users expect): the request's URL is purged, soft when the
// request carries "Soft-Purge: 1". The admin token is required.
func (a *API) ServePURGE(w http.ResponseWriter, r *http.Request) {
	cfg := a.Config()
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
	scopes, purged, err := Scopes(cfg, Request{URLs: []string{u.String()}})
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	a.purge(w, r, scopes, purged, r.Header.Get("Soft-Purge") == "1")
}

// Scopes turns a purge request into scopes, normalizing URLs, prefixes and
// hosts the way keys are normalized. The error says what is wrong.
func Scopes(cfg *policy.Rules, req Request) ([]Scope, map[string][]string, error) {
	var scopes []Scope
	purged := map[string][]string{}
	add := func(kind string, s Scope) {
		scopes = append(scopes, s)
		purged[kind] = append(purged[kind], s.Value)
	}
	if req.All {
		scopes = append(scopes, Scope{Kind: All})
		purged["all"] = []string{}
	}
	for _, raw := range req.URLs {
		key, _, err := cfg.KeyForURL(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("urls: %q: need an absolute http or https URL", raw)
		}
		add("urls", URLScope(key))
	}
	for _, p := range req.Prefixes {
		values, err := prefixScopes(cfg, p)
		if err != nil {
			return nil, nil, err
		}
		for _, v := range values {
			add("prefixes", Scope{Kind: Prefix, Value: v})
		}
	}
	for _, h := range req.Hosts {
		host, err := normalizeHost(h)
		if err != nil {
			return nil, nil, err
		}
		add("hosts", Scope{Kind: Host, Value: host})
	}
	for _, name := range req.Routes {
		if !routeExists(cfg, name) {
			return nil, nil, fmt.Errorf("routes: %q is not a route of the config", name)
		}
		add("routes", Scope{Kind: Route, Value: name})
	}
	for _, t := range req.Tags {
		if err := checkTag(t); err != nil {
			return nil, nil, err
		}
		add("tags", Scope{Kind: Tag, Value: t})
	}
	if len(scopes) == 0 {
		return nil, nil, errors.New(`nothing to purge: give urls, tags, prefixes, hosts, routes or "all": true`)
	}
	return scopes, purged, nil
}

// prefixScopes normalizes a prefix as a key's path is normalized: a path
// ("/blog/") covers every host, an absolute URL one host
// (policy.Key.PrefixScopes).
func prefixScopes(cfg *policy.Rules, p string) ([]string, error) {
	raw := p
	if strings.HasPrefix(p, "/") {
		raw = "http://prefix.invalid" + p
	}
	if strings.ContainsAny(p, "?#") {
		return nil, fmt.Errorf("prefixes: %q: a prefix is a path, without query or fragment", p)
	}
	key, _, err := cfg.KeyForURL(raw)
	if err != nil {
		return nil, fmt.Errorf("prefixes: %q: need a path starting with / or an absolute http or https URL", p)
	}
	return key.PrefixScopes(strings.HasPrefix(p, "/")), nil
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

// RequireToken wraps h so that it answers only requests that carry the
// admin token of the config in force.
func RequireToken(config func() *policy.Rules, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := config().Admin.Token
		if !authorized(r, token) {
			unauthorized(w, token)
			return
		}
		h(w, r)
	}
}

// authorized checks the bearer token. With no token configured nothing is
// authorized. The scheme name is case-insensitive (RFC 9110 §11.1) and may
// be followed by more than one space (§11.4: 1*SP). The SHA-256 digests of
// the two tokens are compared in constant time, so that neither the
// token's bytes nor its length show in how long a refusal takes
// (subtle.ConstantTimeCompare returns at once on a length mismatch).
func authorized(r *http.Request, token string) bool {
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || token == "" || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	want, have := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(strings.TrimLeft(got, " ")))
	return subtle.ConstantTimeCompare(have[:], want[:]) == 1
}

func unauthorized(w http.ResponseWriter, token string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="cachegate"`)
	msg := "missing or wrong bearer token\n"
	if token == "" {
		msg = "admin.token is not set: the admin API refuses every request\n"
	}
	http.Error(w, msg, http.StatusUnauthorized)
}

func badRequest(w http.ResponseWriter, format string, args ...any) {
	http.Error(w, "bad purge request: "+fmt.Sprintf(format, args...), http.StatusBadRequest)
}
