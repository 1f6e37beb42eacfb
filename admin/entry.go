package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/proxy"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/store"
)

// Entries finds the entry a GET of a URL would be served from: the
// proxy's own lookup (*proxy.Proxy), so that /debug/entry shows what a
// client would get and never a copy of the key rules.
type Entries interface {
	Lookup(ctx context.Context, u *url.URL, h http.Header) (proxy.Found, error)
}

// EntryInfo is the stored metadata of one entry, as GET /debug/entry
// shows it.
type EntryInfo struct {
	Key      string `json:"key"`
	StoreKey string `json:"store_key"`
	Route    string `json:"route"`
	Host     string `json:"host"`
	// Upstream is the upstream (host:port) that filled the entry.
	Upstream             string    `json:"upstream,omitempty"`
	Status               int       `json:"status"`
	StoredAt             time.Time `json:"stored_at"`
	Age                  string    `json:"age"`
	Freshness            string    `json:"freshness_lifetime"`
	TTL                  string    `json:"ttl"`
	StaleWhileRevalidate string    `json:"stale_while_revalidate"`
	StaleIfError         string    `json:"stale_if_error"`
	MustRevalidate       bool      `json:"must_revalidate"`
	ETag                 string    `json:"etag,omitempty"`
	LastModified         string    `json:"last_modified,omitempty"`
	Tags                 []string  `json:"tags"`
	Groups               []string  `json:"groups,omitempty"`
	Vary                 []string  `json:"vary,omitempty"`
	Size                 int64     `json:"size"`
	BodyBytes            int       `json:"body_bytes"`
	PurgeSeq             uint64    `json:"purge_seq"`
	Purge                string    `json:"purge_state"`
}

// serveEntry handles GET /debug/entry?url=U[&h=Name:value…][&cookie=name=value…]:
// the metadata of the entry a GET of U would be served from, with the
// request headers h and the cookies keying it (key.headers, key.cookies)
// and selecting the variant when the response varies (RFC 9111 §4.1), or
// 404. The caller checks the admin token.
//
// The query is parsed strictly: Go's lenient parser drops a pair holding
// an unescaped ';', which is how a Cookie field with several cookies is
// written, and the entry would then be looked up without it and not found.
func serveEntry(entries Entries, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		query, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			http.Error(w, "bad request: the query does not parse (escape a ';' as %3B): "+err.Error()+"\n", http.StatusBadRequest)
			return
		}
		raw := query.Get("url")
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (!strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https")) {
			http.Error(w, "bad request: url: need an absolute http or https URL\n", http.StatusBadRequest)
			return
		}
		header, msg := entryHeader(query)
		if msg != "" {
			http.Error(w, "bad request: "+msg+"\n", http.StatusBadRequest)
			return
		}
		found, err := entries.Lookup(r.Context(), u, header)
		switch {
		case err != nil:
			http.Error(w, "store: "+err.Error()+"\n", http.StatusBadGateway)
			return
		case !found.Cacheable:
			http.Error(w, "not stored: a GET of it does not use the cache (route "+found.Route.Name+")\n", http.StatusNotFound)
			return
		case found.Entry == nil:
			hint := ""
			if found.Route.KeysRequestFields() {
				hint = "; the route keys request fields: give them as h=Name:value or cookie=name=value"
			}
			http.Error(w, "not stored: "+found.Key.String()+" (route "+found.Route.Name+hint+")\n", http.StatusNotFound)
			return
		}
		var out struct {
			URL     string     `json:"url"`
			Marker  *EntryInfo `json:"vary_marker,omitempty"`
			Entry   *EntryInfo `json:"entry"`
			Headers []string   `json:"selected_by,omitempty"`
		}
		out.URL = raw
		if found.Marker != nil {
			out.Marker = entryInfo(found.Marker, found.MarkerID, 0, now())
			for _, name := range found.Marker.Vary {
				out.Headers = append(out.Headers, name+": "+strings.Join(header.Values(name), ", "))
			}
		}
		out.Entry = entryInfo(found.Entry, found.EntryID, found.Validity, now())
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(out)
	}
}

// entryHeader is the request header a lookup for /debug/entry carries:
// the h=Name:value fields, and the cookie=name=value pairs as one Cookie
// field (RFC 6265 §5.4: pairs joined by "; "), after any Cookie given with
// h. It returns why the query is refused, or "".
func entryHeader(query url.Values) (http.Header, string) {
	header := http.Header{}
	for _, kv := range query["h"] {
		name, value, ok := strings.Cut(kv, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, "h: want Name:value"
		}
		header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	var cookies []string
	for _, kv := range query["cookie"] {
		name, value, ok := strings.Cut(kv, "=")
		if name = strings.TrimSpace(name); !ok || name == "" || strings.ContainsAny(name, "; \t") {
			return nil, "cookie: want name=value"
		}
		cookies = append(cookies, name+"="+strings.TrimSpace(value))
	}
	if len(cookies) > 0 {
		cookies = append(header.Values("Cookie"), cookies...)
		header.Set("Cookie", strings.Join(cookies, "; "))
	}
	return header, ""
}

// entryInfo is the metadata of e, stored under id, with what the purge
// marks say of it.
func entryInfo(e *store.Entry, id string, v purge.Validity, now time.Time) *EntryInfo {
	info := &EntryInfo{
		Key: e.Key, StoreKey: id, Route: e.Route, Host: e.Host, Upstream: e.Upstream, Status: e.Status,
		Tags: e.Tags, Groups: e.Groups, Vary: e.Vary, Size: e.Size(), BodyBytes: len(e.Body),
		PurgeSeq: e.Seq,
	}
	if e.IsMarker() {
		return info
	}
	age := policy.CurrentAge(e.Header, e.RequestTime, e.ResponseTime, now)
	info.StoredAt = e.ResponseTime.UTC()
	info.Age = age.Round(time.Millisecond).String()
	info.Freshness = e.Freshness.String()
	info.TTL = (e.Freshness - age).Round(time.Millisecond).String()
	info.StaleWhileRevalidate = e.StaleWhileRevalidate.String()
	info.StaleIfError = e.StaleIfError.String()
	info.MustRevalidate = e.MustRevalidate
	info.ETag = e.Header.Get("Etag")
	info.LastModified = e.Header.Get("Last-Modified")
	switch v {
	case purge.Purged:
		info.Purge = "purged"
	case purge.SoftPurged:
		info.Purge = "soft-purged"
	default:
		info.Purge = "valid"
	}
	return info
}
