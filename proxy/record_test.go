package proxy

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/cachegate/cachegate/accesslog"
)

// records keeps the access log's records.
type records struct {
	mu  sync.Mutex
	all []*accesslog.Record
}

func (rs *records) Write(r *accesslog.Record) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.all = append(rs.all, r)
}

func (rs *records) last(t *testing.T) *accesslog.Record {
	t.Helper()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.all) == 0 {
		t.Fatal("no access record")
	}
	return rs.all[len(rs.all)-1]
}

func (rs *records) len() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return len(rs.all)
}

func TestTheAccessRecordTellsTheRequestAndItsCacheState(t *testing.T) {
	h, _ := counter("max-age=60")
	o := newOrigin(t, h)
	log := &records{}
	// allow_fields drops Referer and User-Agent before the origin: the
	// record still has the client's.
	c := newCacheWith(t, o, "access_log: {enabled: true}\ntrusted_proxies: [127.0.0.1]\ndefault_route: {request: {allow_fields: [Accept]}}\n", Options{AccessLog: log})
	c.get(t, "/page?x=1", "Referer", "https://ref.test/", "User-Agent", "ua/1", "X-Forwarded-For", "198.51.100.9")
	miss := log.last(t)
	resp, _ := c.get(t, "/page?x=1")
	hit := log.last(t)
	if miss.Method != "GET" || miss.URI != "/page?x=1" || miss.Proto != "HTTP/1.1" || miss.Status != 200 || miss.Bytes == 0 ||
		miss.Referer != "https://ref.test/" || miss.UserAgent != "ua/1" || miss.Route != "default" || miss.Cache != "miss" ||
		!strings.Contains(miss.CacheStatus, "fwd=uri-miss") || miss.Upstream == "" || miss.OriginMicros <= 0 || miss.TotalMicros < miss.OriginMicros {
		t.Errorf("miss record = %+v", miss)
	}
	if miss.Client != "198.51.100.9" {
		t.Errorf("client behind a trusted proxy = %q, want the forwarded 198.51.100.9", miss.Client)
	}
	if hit.Cache != "hit" || hit.Upstream != "" || hit.OriginMicros != 0 || hit.Client != "127.0.0.1" {
		t.Errorf("hit record = %+v", hit)
	}
	if hit.RequestID == miss.RequestID || resp.Header.Get("X-Request-Id") != hit.RequestID {
		t.Errorf("request IDs: miss %q, hit %q, hit's response %q: want distinct, echoed", miss.RequestID, hit.RequestID, resp.Header.Get("X-Request-Id"))
	}
}

func TestAClientsOwnXRequestIDIsNotBelieved(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id")) // an origin that echoes it
		w.Header().Set("Cache-Control", "max-age=60")
	})
	log := &records{}
	c := newCacheWith(t, o, "access_log: {enabled: true}\ntrusted_proxies: [192.0.2.1]\n", Options{AccessLog: log})
	resp, _ := c.get(t, "/", "X-Request-Id", "forged-by-client")
	sent := o.last().Header.Get("X-Request-Id")
	if sent == "forged-by-client" || len(sent) != 16 {
		t.Errorf("the origin got X-Request-Id %q, want a generated one", sent)
	}
	if got := resp.Header.Values("X-Request-Id"); len(got) != 1 || got[0] != sent || log.last(t).RequestID != sent {
		t.Errorf("response X-Request-Id %q, record %q, want the one sent to the origin, %q", got, log.last(t).RequestID, sent)
	}
	// A hit echoes its own ID, not the stored response's.
	resp, _ = c.get(t, "/")
	if got := resp.Header.Get("X-Request-Id"); got == sent || got != log.last(t).RequestID {
		t.Errorf("a hit's X-Request-Id = %q, want its own %q (stored one %q)", got, log.last(t).RequestID, sent)
	}
}

func TestATrustedProxysXRequestIDIsKeptUnlessItCouldBreakALine(t *testing.T) {
	h, _ := counter("no-store")
	o := newOrigin(t, h)
	c := newCacheWith(t, o, "trusted_proxies: [127.0.0.0/8]\n", Options{})
	resp, _ := c.get(t, "/", "X-Request-Id", "lb-1234")
	if o.last().Header.Get("X-Request-Id") != "lb-1234" {
		t.Errorf("a trusted proxy's X-Request-Id was not kept: origin got %q", o.last().Header.Get("X-Request-Id"))
	}
	// Nothing records the request (no access log, no viewer): the ID is
	// not echoed (sendRequestID).
	if got := resp.Header.Get("X-Request-Id"); got != "" {
		t.Errorf("an unrecorded request's response carries X-Request-Id %q", got)
	}
	c.get(t, "/", "X-Request-Id", `a" "b`)
	if got := o.last().Header.Get("X-Request-Id"); got == `a" "b` || len(got) != 16 {
		t.Errorf("an X-Request-Id with quotes and spaces was kept: %q", got)
	}
}

func TestTheAccessLogIsWrittenOnlyWhileTheConfigEnablesIt(t *testing.T) {
	h, _ := counter("no-store")
	o := newOrigin(t, h)
	log := &records{}
	c := newCacheWith(t, o, "", Options{AccessLog: log})
	c.get(t, "/")
	if log.len() != 0 {
		t.Errorf("%d records with access_log disabled", log.len())
	}
}

func TestAViewerThatNeverReadsDoesNotHoldRequestsAndItsDropsAreCounted(t *testing.T) {
	h, _ := counter("max-age=60")
	o := newOrigin(t, h)
	hub := accesslog.NewHub(1, 8)
	c := newCacheWith(t, o, "", Options{Live: hub})
	v, err := hub.Watch(accesslog.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for range 50 {
		c.get(t, "/") // each returns although nobody reads the viewer
	}
	if got := v.TakeDropped(); got != 42 {
		t.Errorf("the viewer dropped %d records, want 50 - its buffer of 8", got)
	}
	v.Close()
	c.get(t, "/")
	if hub.Watched() {
		t.Error("the hub is still watched after its viewer closed")
	}
}

func TestAHitDoesNotCarryTheXRequestIDTheOriginEchoedToTheFill(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id")) // as many origins do
		w.Write([]byte("page"))
	})
	c := newCacheWith(t, o, "", Options{})
	miss, _ := c.get(t, "/")
	filled := o.last().Header.Get("X-Request-Id")
	hit, _ := c.get(t, "/")
	if !strings.Contains(hit.Header.Get("Cache-Status"), "hit") {
		t.Fatalf("second GET: Cache-Status %q, want a hit", hit.Header.Get("Cache-Status"))
	}
	if got := hit.Header.Get("X-Request-Id"); got != "" {
		t.Errorf("the hit carries X-Request-Id %q (the fill's was %q, the miss answered %q): a stored ID names another request",
			got, filled, miss.Header.Get("X-Request-Id"))
	}
}

func TestARecordHoldsABoundedSizeWhateverTheRequestCarried(t *testing.T) {
	h, _ := counter("max-age=60")
	o := newOrigin(t, h)
	log := &records{}
	c := newCacheWith(t, o, "access_log: {enabled: true}\n", Options{AccessLog: log})
	// Each of these waits in the log's queue and each viewer's: 8192 of
	// them must not hold 8192 times what a client may send.
	c.get(t, "/"+strings.Repeat("u", 20000), "Referer", strings.Repeat("r", 20000), "User-Agent", strings.Repeat("a", 20000))
	rec := log.last(t)
	if len(rec.URI) > accesslog.MaxURI || len(rec.Referer) > accesslog.MaxReferer || len(rec.UserAgent) > accesslog.MaxUserAgent {
		t.Errorf("record holds a %d-byte URI, %d-byte Referer, %d-byte User-Agent; want at most %d, %d, %d",
			len(rec.URI), len(rec.Referer), len(rec.UserAgent), accesslog.MaxURI, accesslog.MaxReferer, accesslog.MaxUserAgent)
	}
	if !strings.HasSuffix(rec.URI, "...") {
		t.Errorf("a cut URI is not marked: %q", rec.URI[len(rec.URI)-10:])
	}
}

func TestARequestRefusedByClientLimitsHasItsAccessRecord(t *testing.T) {
	h, _ := counter("max-age=60")
	o := newOrigin(t, h)
	log := &records{}
	c := newCacheWith(t, o, "access_log: {enabled: true}\nclient_limits: {max_header_bytes: 1KiB}\n", Options{AccessLog: log})
	resp, _ := c.get(t, "/big?x=1", "User-Agent", "ua/1", "X-Padding", strings.Repeat("p", 2000))
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
	rec := log.last(t)
	if rec.Status != http.StatusRequestHeaderFieldsTooLarge || rec.Method != "GET" || rec.URI != "/big?x=1" || rec.UserAgent != "ua/1" ||
		rec.Cache != "error" || rec.Client != "127.0.0.1" || len(rec.RequestID) != accesslog.IDLen || rec.Time.IsZero() {
		t.Errorf("refusal record = %+v", rec)
	}
	if n := o.hits.Load(); n != 0 {
		t.Errorf("origin saw %d requests, want none", n)
	}
}
