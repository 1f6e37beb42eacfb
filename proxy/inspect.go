package proxy

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/store"
)

// EntryInfo is the stored metadata of one entry, as GET /debug/entry
// shows it.
type EntryInfo struct {
	Key                  string    `json:"key"`
	StoreKey             string    `json:"store_key"`
	Route                string    `json:"route"`
	Host                 string    `json:"host"`
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

// ServeInspect handles GET /debug/entry?url=U[&h=Name:value…]: the
// metadata of the entry a GET of U would be served, with the request
// headers h selecting the variant when the response varies (RFC 9111
// §4.1), or 404. The caller checks the admin token.
func (p *Proxy) ServeInspect(w http.ResponseWriter, r *http.Request) {
	st := p.state.Load()
	raw := r.URL.Query().Get("url")
	key, rt, err := st.cfg.KeyForURL(raw)
	if err != nil {
		http.Error(w, "bad request: url: need an absolute http or https URL\n", http.StatusBadRequest)
		return
	}
	header := http.Header{}
	for _, kv := range r.URL.Query()["h"] {
		name, value, ok := strings.Cut(kv, ":")
		if !ok {
			http.Error(w, "bad request: h: want Name:value\n", http.StatusBadRequest)
			return
		}
		header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	ctx := r.Context()
	var out struct {
		URL     string     `json:"url"`
		Marker  *EntryInfo `json:"vary_marker,omitempty"`
		Entry   *EntryInfo `json:"entry"`
		Headers []string   `json:"selected_by,omitempty"`
	}
	out.URL = raw
	id := key.ID()
	e, err := p.store.Get(ctx, id)
	if err == nil && e.IsMarker() {
		out.Marker = p.entryInfo(e, id)
		for _, name := range e.Vary {
			out.Headers = append(out.Headers, name+": "+strings.Join(header.Values(name), ", "))
		}
		id = key.VariantID(policy.VaryKey(e.Vary, header))
		e, err = p.store.Get(ctx, id)
	}
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && e.IsMarker()):
		http.Error(w, "not stored: "+key.String()+" (route "+rt.Name+")\n", http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, "store: "+err.Error()+"\n", http.StatusBadGateway)
		return
	}
	out.Entry = p.entryInfo(e, id)
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(out)
}

func (p *Proxy) entryInfo(e *store.Entry, id string) *EntryInfo {
	now := p.now()
	info := &EntryInfo{
		Key: e.Key, StoreKey: id, Route: e.Route, Host: e.Host, Status: e.Status,
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
	switch p.purger.Check(p.background, e) {
	case purge.Purged:
		info.Purge = "purged"
	case purge.SoftPurged:
		info.Purge = "soft-purged"
	default:
		info.Purge = "valid"
	}
	return info
}
