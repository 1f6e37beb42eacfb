package proxy

import (
	"net"
	"net/http"
	"strings"

	"github.com/cachegate/cachegate/policy"
)

// internalFields are response fields meant for this cache only: purge tags
// and cachegate's own targeted cache-control field (RFC 9213 §2.2 lets a
// cache remove a field that targets it).
var internalFields = []string{"Surrogate-Key", "Cache-Tag", "Cachegate-Cache-Control"}

// stripInternalFields removes the internal fields before a response leaves.
func stripInternalFields(h http.Header) {
	for _, name := range internalFields {
		delete(h, name)
	}
}

// notModifiedFields are the fields a 304 keeps (RFC 9110 §15.4.5): those a
// 200 would have carried, less the ones that describe the content.
var contentFields = []string{"Content-Length", "Content-Type", "Content-Encoding", "Content-Range", "Transfer-Encoding"}

// notModified removes from h what a 304 must not carry.
func notModified(h http.Header) {
	for _, name := range contentFields {
		delete(h, name)
	}
}

// via is this cache's Via member (RFC 9110 §7.6.3) for a message received
// with proto.
func via(proto, name string) string {
	v := strings.TrimPrefix(proto, "HTTP/")
	if v == "" || v == proto {
		v = "1.1"
	}
	return v + " " + name
}

// hostOf is the request's host, lower-cased, without port.
func hostOf(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(host)
}

// tagsOf is the purge tags of a response: the route's own, then the
// origin's Surrogate-Key (space-separated) and Cache-Tag (comma-separated).
func tagsOf(rt *policy.Route, h http.Header) []string {
	tags := append([]string(nil), rt.Tags...)
	for _, v := range h.Values("Surrogate-Key") {
		tags = append(tags, strings.Fields(v)...)
	}
	for _, v := range h.Values("Cache-Tag") {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	return tags
}
