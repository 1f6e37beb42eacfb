package proxy

import (
	"net/http"
	"strings"

	"github.com/cachegate/cachegate/policy"
)

// ownField is cachegate's own targeted cache-control field; it targets
// this cache only and never leaves it (RFC 9213 §2.2).
const ownField = "Cachegate-Cache-Control"

// internalFields are the response fields meant for this cache only:
// cachegate's own targeted field, the purge tag headers unless
// cache.forward_tag_headers, and cache.strip_response_fields.
func internalFields(cfg *policy.Rules) []string {
	fields := []string{ownField}
	if !cfg.Cache.ForwardTagHeaders {
		fields = append(fields, cfg.Cache.TagHeaders.SurrogateKey, cfg.Cache.TagHeaders.CacheTag)
	}
	fields = append(fields, cfg.Cache.StripResponseFields...)
	for i, f := range fields {
		fields[i] = http.CanonicalHeaderKey(f)
	}
	return fields
}

// stripInternalFields removes the internal fields before a response leaves.
func (st *state) stripInternalFields(h http.Header) {
	for _, name := range st.internal {
		delete(h, name)
	}
}

// contentFields are the fields notModified removes: those that describe
// the content or its framing, which a 304 has none of (RFC 9110 §15.4.5:
// a 304 carries the fields a 200 would have, less representation
// metadata other than what guides cache updates).
var contentFields = []string{"Content-Length", "Content-Type", "Content-Encoding", "Content-Range", "Transfer-Encoding"}

// notModified removes from h what a 304 must not carry.
func notModified(h http.Header) {
	for _, name := range contentFields {
		delete(h, name)
	}
}

// via is this cache's Via member (RFC 9110 §7.6.3) for a message received
// with proto; the common HTTP/1.1 case is prepared once per config.
func (st *state) via(proto string) string {
	if proto == "HTTP/1.1" {
		return st.via11
	}
	v := strings.TrimPrefix(proto, "HTTP/")
	if v == "" || v == proto {
		v = "1.1"
	}
	return v + " " + st.cfg.Cache.Name
}

// hostOf is the request's host as the host purge scope has it
// (policy.HostName).
func hostOf(r *http.Request) string { return policy.HostName(r.Host) }

// tagsOf is the purge tags of a response: the route's own, then the
// origin's Surrogate-Key (space-separated) and Cache-Tag (comma-separated),
// under the names cache.tag_headers gives them.
func tagsOf(cfg *policy.Rules, rt *policy.Route, h http.Header) []string {
	tags := append([]string(nil), rt.Tags...)
	for _, v := range h.Values(cfg.Cache.TagHeaders.SurrogateKey) {
		tags = append(tags, strings.Fields(v)...)
	}
	for _, v := range h.Values(cfg.Cache.TagHeaders.CacheTag) {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	return tags
}
