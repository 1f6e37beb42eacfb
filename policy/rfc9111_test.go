package policy

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/cachegate/cachegate/config"
)

var (
	t0      = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	httpT0  = t0.Format(http.TimeFormat)
	getReq  = &http.Request{Method: http.MethodGet, Header: http.Header{}}
	respect = &Route{Route: config.Route{Name: "r", Mode: config.ModeRespect}}
)

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestDecideStore(t *testing.T) {
	auth := &http.Request{Method: http.MethodGet, Header: header("Authorization", "Bearer x")}
	override := &Route{Route: config.Route{Name: "o", Mode: config.ModeOverride, TTL: config.Duration(time.Minute)}}
	withTTL := &Route{Route: config.Route{Name: "t", Mode: config.ModeRespect, TTL: config.Duration(30 * time.Second),
		StaleWhileRevalidate: config.Duration(10 * time.Second), StaleIfError: config.Duration(time.Hour)}}
	rows := []struct {
		name      string
		rt        *Route
		req       *http.Request
		status    int
		h         http.Header
		store     bool
		reason    string
		freshness time.Duration
		mustReval bool
		swr, sie  time.Duration
	}{
		{"§5.2.2.1 max-age", respect, getReq, 200, header("Cache-Control", "max-age=60"), true, "", time.Minute, false, 0, 0},
		{"§5.2.2.10 s-maxage over max-age, implies proxy-revalidate", respect, getReq, 200, header("Cache-Control", "max-age=60, s-maxage=120"), true, "", 2 * time.Minute, true, 0, 0},
		{"§5.3 Expires minus Date", respect, getReq, 200, header("Date", httpT0, "Expires", t0.Add(90*time.Second).Format(http.TimeFormat)), true, "", 90 * time.Second, false, 0, 0},
		{"§5.2.2.1 max-age over Expires", respect, getReq, 200, header("Date", httpT0, "Expires", t0.Add(time.Hour).Format(http.TimeFormat), "Cache-Control", "max-age=5"), true, "", 5 * time.Second, false, 0, 0},
		{"§5.3 invalid Expires is already expired", respect, getReq, 200, header("Expires", "0", "Etag", `"a"`), true, "", 0, false, 0, 0},
		{"§5.3 Expires with a one-digit hour is invalid: stale", respect, getReq, 200, header("Date", httpT0, "Expires", "Sun, 22 Nov 2026 3:00:00 GMT", "Etag", `"a"`), true, "", 0, false, 0, 0},
		{"§5.3 Expires with doubled spaces is invalid: stale", respect, getReq, 200, header("Date", httpT0, "Expires", "Sun, 22  Nov 2026 13:00:00 GMT", "Etag", `"a"`), true, "", 0, false, 0, 0},
		{"§5.3 Expires in UTC is invalid: stale", respect, getReq, 200, header("Date", httpT0, "Expires", "Sun, 22 Nov 2026 13:00:00 UTC", "Etag", `"a"`), true, "", 0, false, 0, 0},
		{"§5.3 Expires with a wrong-case zone is valid (RFC 9110 §5.6.7 robustness)", respect, getReq, 200, header("Date", httpT0, "Expires", "Sun, 22 Nov 2026 13:00:00 gmt"), true, "", time.Hour, false, 0, 0},
		{"§5.3 Expires in RFC 850 format", respect, getReq, 200, header("Date", httpT0, "Expires", "Sunday, 22-Nov-26 13:00:00 GMT"), true, "", time.Hour, false, 0, 0},
		{"§5.3 Expires in asctime format", respect, getReq, 200, header("Date", httpT0, "Expires", "Sun Nov 22 13:00:00 2026"), true, "", time.Hour, false, 0, 0},
		{"§4.2.1 two different Expires: stale", respect, getReq, 200, header("Date", httpT0, "Expires", t0.Add(time.Hour).Format(http.TimeFormat), "Expires", t0.Format(http.TimeFormat), "Etag", `"a"`), true, "", 0, false, 0, 0},
		{"§4.2.1 invalid max-age is stale", respect, getReq, 200, header("Cache-Control", "max-age=abc", "Etag", `"a"`), true, "", 0, false, 0, 0},
		{"§4.2.1 first of two max-age", respect, getReq, 200, header("Cache-Control", "max-age=10, max-age=99"), true, "", 10 * time.Second, false, 0, 0},
		{"§1.2.2 huge max-age capped", respect, getReq, 200, header("Cache-Control", "max-age=99999999999"), true, "", maxDelta, false, 0, 0},
		{"§5.2.2.5 no-store", respect, getReq, 200, header("Cache-Control", "no-store, max-age=60"), false, "no-store", 0, false, 0, 0},
		{"§5.2.2.3 must-understand with understood status overrides no-store", respect, getReq, 200, header("Cache-Control", "must-understand, no-store, max-age=60"), true, "", time.Minute, false, 0, 0},
		{"§5.2.2.3 must-understand with unknown status", respect, getReq, 299, header("Cache-Control", "must-understand, no-store, max-age=60"), false, "must-understand", 0, false, 0, 0},
		{"§5.2.2.7 private", respect, getReq, 200, header("Cache-Control", "private, max-age=60"), false, "private", 0, false, 0, 0},
		{"§5.2.2.4 no-cache stores but must validate", respect, getReq, 200, header("Cache-Control", "no-cache", "Etag", `"a"`), true, "", 0, true, 0, 0},
		{"§5.2.2.4 no-cache with field names stores, fresh", respect, getReq, 200, header("Cache-Control", `no-cache="X-Secret", max-age=60`), true, "", time.Minute, false, 0, 0},
		{"§3.5 Authorization without permission", respect, auth, 200, header("Cache-Control", "max-age=60"), false, "authorization", 0, false, 0, 0},
		{"§3.5 Authorization with public", respect, auth, 200, header("Cache-Control", "public, max-age=60"), true, "", time.Minute, false, 0, 0},
		{"§3.5 Authorization with s-maxage", respect, auth, 200, header("Cache-Control", "s-maxage=60"), true, "", time.Minute, true, 0, 0},
		{"§3 Set-Cookie not stored by default", respect, getReq, 200, header("Cache-Control", "max-age=60", "Set-Cookie", "a=b"), false, "set-cookie", 0, false, 0, 0},
		{"§3 500 without explicit freshness", respect, getReq, 500, header(), false, "status", 0, false, 0, 0},
		{"§3 500 with explicit freshness", respect, getReq, 500, header("Cache-Control", "max-age=5"), true, "", 5 * time.Second, false, 0, 0},
		{"§3 302 without freshness", respect, getReq, 302, header("Location", "/x"), false, "status", 0, false, 0, 0},
		{"§3 public makes a 302 heuristically cacheable", respect, getReq, 302, header("Cache-Control", "public", "Date", httpT0, "Last-Modified", t0.Add(-100*time.Second).Format(http.TimeFormat)), true, "", 10 * time.Second, false, 0, 0},
		{"§3.3 206 is never stored as a whole", respect, getReq, 206, header("Cache-Control", "max-age=60"), false, "partial", 0, false, 0, 0},
		{"§4.2.2 heuristic 10% of Last-Modified age", respect, getReq, 200, header("Date", httpT0, "Last-Modified", t0.Add(-1000*time.Second).Format(http.TimeFormat)), true, "", 100 * time.Second, false, 0, 0},
		{"§4.2.2 heuristic capped at a day", respect, getReq, 200, header("Date", httpT0, "Last-Modified", t0.Add(-1000*24*time.Hour).Format(http.TimeFormat)), true, "", 24 * time.Hour, false, 0, 0},
		{"§4.2.2 route TTL as heuristic", withTTL, getReq, 200, header(), true, "", 30 * time.Second, false, 10 * time.Second, time.Hour},
		{"§4.2.2 no freshness, no validator: not stored", respect, getReq, 200, header(), false, "no-freshness", 0, false, 0, 0},
		{"§4.1 Vary: * never stored", respect, getReq, 200, header("Cache-Control", "max-age=60", "Vary", "Accept, *"), false, "vary-star", 0, false, 0, 0},
		{"RFC 5861 origin windows over the route's", withTTL, getReq, 200, header("Cache-Control", "max-age=1, stale-while-revalidate=60, stale-if-error=5"), true, "", time.Second, false, time.Minute, time.Hour},
		{"RFC 5861 bare stale-while-revalidate ignored, rest kept", respect, getReq, 200, header("Cache-Control", "stale-while-revalidate, max-age=60"), true, "", time.Minute, false, 0, 0},
		{"§4.2.4 must-revalidate forbids stale windows", withTTL, getReq, 200, header("Cache-Control", "max-age=1, must-revalidate, stale-while-revalidate=60"), true, "", time.Second, true, 0, 0},
		{"§5.2.2.8 proxy-revalidate", respect, getReq, 200, header("Cache-Control", "max-age=1, proxy-revalidate"), true, "", time.Second, true, 0, 0},
		{"override mode: the route's TTL", override, getReq, 200, header("Cache-Control", "max-age=0, no-cache"), true, "", time.Minute, false, 0, 0},
		{"override mode still refuses private", override, getReq, 200, header("Cache-Control", "private"), false, "private", 0, false, 0, 0},
		{"override mode does not store 500", override, getReq, 500, header(), false, "status", 0, false, 0, 0},
		{"RFC 9213 §2.2 CDN-Cache-Control over Cache-Control", respect, getReq, 200, header("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=30"), true, "", 30 * time.Second, false, 0, 0},
		{"RFC 9213 §2.2 cachegate's field over CDN-Cache-Control", respect, getReq, 200, header("Cachegate-Cache-Control", "max-age=7", "CDN-Cache-Control", "max-age=30"), true, "", 7 * time.Second, false, 0, 0},
		{"RFC 9213 §2.1 an invalid targeted field is ignored", respect, getReq, 200, header("CDN-Cache-Control", "max-age=30,,", "Cache-Control", "max-age=3"), true, "", 3 * time.Second, false, 0, 0},
		{"RFC 9213 targeted no-store", respect, getReq, 200, header("CDN-Cache-Control", "no-store", "Cache-Control", "max-age=3"), false, "no-store", 0, false, 0, 0},
		{"RFC 9213 targeted field ignores Expires", respect, getReq, 200, header("CDN-Cache-Control", "public", "Expires", "0", "Date", httpT0, "Last-Modified", t0.Add(-100*time.Second).Format(http.TimeFormat)), true, "", 10 * time.Second, false, 0, 0},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			d := DecideStore(r.rt, r.req, r.status, r.h, t0, t0)
			if d.Store != r.store || d.Reason != r.reason {
				t.Fatalf("store = %v (%q), want %v (%q)", d.Store, d.Reason, r.store, r.reason)
			}
			if !d.Store {
				return
			}
			if d.Freshness != r.freshness || d.MustRevalidate != r.mustReval {
				t.Errorf("freshness %v must-revalidate %v, want %v %v", d.Freshness, d.MustRevalidate, r.freshness, r.mustReval)
			}
			if d.StaleWhileRevalidate != r.swr || d.StaleIfError != r.sie {
				t.Errorf("swr %v sie %v, want %v %v", d.StaleWhileRevalidate, d.StaleIfError, r.swr, r.sie)
			}
		})
	}
}

func TestDecideStoreOmitsQualifiedFields(t *testing.T) {
	// §5.2.2.4 no-cache="f" and §5.2.2.7 private="f": store the rest.
	h := header("Cache-Control", `private="X-User", no-cache="X-Token", max-age=60`)
	d := DecideStore(respect, getReq, 200, h, t0, t0)
	if !d.Store || len(d.OmitHeaders) < 2 || d.OmitHeaders[0] != "X-User" || d.OmitHeaders[1] != "X-Token" {
		t.Fatalf("got %+v, want stored without X-User and X-Token", d)
	}
}

func TestDecideStoreOmitsTheOriginsXRequestID(t *testing.T) {
	d := DecideStore(respect, getReq, 200, header("Cache-Control", "max-age=60", "X-Request-Id", "abc"), t0, t0)
	if !d.Store || !slices.Contains(d.OmitHeaders, "X-Request-Id") {
		t.Fatalf("got %+v, want stored without X-Request-Id (it names one request)", d)
	}
}

func TestDecideStorePost(t *testing.T) {
	post := &http.Request{Method: http.MethodPost, Header: http.Header{}}
	auth := &http.Request{Method: http.MethodPost, Header: header("Authorization", "Bearer x")}
	expires := t0.Add(30 * 24 * time.Hour).Format(http.TimeFormat)
	rows := []struct {
		name      string
		req       *http.Request
		sameURI   bool
		status    int
		h         http.Header
		store     bool
		freshness time.Duration
	}{
		{"RFC 9110 §9.3.3 Content-Location is the target and Expires: stored", post, true, 200, header("Date", httpT0, "Expires", expires), true, 30 * 24 * time.Hour},
		{"RFC 9110 §9.3.3 Content-Location is the target and max-age: stored", post, true, 200, header("Cache-Control", "max-age=60"), true, time.Minute},
		{"RFC 9110 §9.3.3 Content-Location names another URI: not stored", post, false, 200, header("Cache-Control", "max-age=60"), false, 0},
		{"RFC 9110 §9.3.3 no explicit freshness (heuristic from Last-Modified): not stored", post, true, 200, header("Date", httpT0, "Last-Modified", t0.Add(-time.Hour).Format(http.TimeFormat)), false, 0},
		{"RFC 9110 §9.3.3 a 201 is not the GET response of the URI: not stored", post, true, 201, header("Cache-Control", "max-age=60"), false, 0},
		{"RFC 9111 §5.2.2.5 no-store: not stored", post, true, 200, header("Cache-Control", "no-store, max-age=60"), false, 0},
		{"RFC 9111 §5.2.2.7 private: not stored", post, true, 200, header("Cache-Control", "private, max-age=60"), false, 0},
		{"Set-Cookie (set_cookie: pass): not stored", post, true, 200, header("Cache-Control", "max-age=60", "Set-Cookie", "s=1"), false, 0},
		{"RFC 9111 §3.5 Authorization: not stored", auth, true, 200, header("Cache-Control", "max-age=60"), false, 0},
		{"RFC 9111 §3.5 Authorization with public: stored", auth, true, 200, header("Cache-Control", "public, max-age=60"), true, time.Minute},
	}
	for _, row := range rows {
		dec := DecideStorePost(respect, row.req, row.sameURI, row.status, row.h, t0, t0)
		if dec.Store != row.store || dec.Freshness != row.freshness {
			t.Errorf("%s: store %v (%s) freshness %v, want store %v freshness %v", row.name, dec.Store, dec.Reason, dec.Freshness, row.store, row.freshness)
		}
	}
}

func TestCurrentAge(t *testing.T) {
	rows := []struct {
		name      string
		h         http.Header
		req, resp time.Time
		now       time.Time
		want      time.Duration
	}{
		{"§4.2.3 resident time only", header("Date", httpT0), t0, t0, t0.Add(10 * time.Second), 10 * time.Second},
		{"§4.2.3 origin's Age counts", header("Date", httpT0, "Age", "100"), t0, t0, t0, 100 * time.Second},
		{"§4.2.3 response delay added to Age", header("Date", httpT0, "Age", "100"), t0.Add(-2 * time.Second), t0, t0, 102 * time.Second},
		{"§4.2.3 apparent age from an old Date", header("Date", t0.Add(-50*time.Second).Format(http.TimeFormat)), t0, t0, t0, 50 * time.Second},
		{"§4.2.3 Date in the future: apparent age 0", header("Date", t0.Add(time.Hour).Format(http.TimeFormat)), t0, t0, t0, 0},
		{"§5.1 invalid Age ignored", header("Date", httpT0, "Age", "-3"), t0, t0, t0, 0},
		{"§1.2.2 huge Age capped", header("Date", httpT0, "Age", "99999999999999999999999"), t0, t0, t0, maxDelta},
		{"§5.1 list on one line: first member", header("Date", httpT0, "Age", "7200, 0"), t0, t0, t0, 7200 * time.Second},
		{"§5.1 list on one line: first member 0", header("Date", httpT0, "Age", "0, 7200"), t0, t0, t0, 0},
		{"§5.1 several lines: first member", header("Date", httpT0, "Age", "7200", "Age", "0"), t0, t0, t0, 7200 * time.Second},
		{"§5.1 several lines: first member 0", header("Date", httpT0, "Age", "0", "Age", "7200"), t0, t0, t0, 0},
		{"§5.1 non-numeric Age ignored", header("Date", httpT0, "Age", "abc"), t0, t0, t0, 0},
		{"§5.1 fractional Age ignored", header("Date", httpT0, "Age", "7200.0"), t0, t0, t0, 0},
		{"§5.1 parameterized Age ignored", header("Date", httpT0, "Age", "7200;foo=bar"), t0, t0, t0, 0},
		{"§5.1 signed Age ignored", header("Date", httpT0, "Age", "+7200"), t0, t0, t0, 0},
		{"§1.2.2 Age of 2^31 - 1", header("Date", httpT0, "Age", "2147483647"), t0, t0, t0, 2147483647 * time.Second},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			if got := CurrentAge(r.h, r.req, r.resp, r.now); got != r.want {
				t.Errorf("age = %v, want %v", got, r.want)
			}
		})
	}
	if got := AgeHeader(1500 * time.Millisecond); got != "1" {
		t.Errorf("AgeHeader(1.5s) = %q, want \"1\" (§5.1 whole seconds)", got)
	}
}

func TestDecideReuse(t *testing.T) {
	min := time.Minute
	ef := EntryFreshness{Freshness: min, StaleWhileRevalidate: 30 * time.Second, StaleIfError: time.Hour}
	mustReval := EntryFreshness{Freshness: min, MustRevalidate: true, StaleIfError: time.Hour}
	req := func(cc string) RequestDirectives { return ParseRequestDirectives(header("Cache-Control", cc)) }
	rows := []struct {
		name string
		ef   EntryFreshness
		age  time.Duration
		rd   RequestDirectives
		want Reuse
	}{
		{"§4.2 fresh", ef, 10 * time.Second, RequestDirectives{}, ReuseFresh},
		{"§4.2 stale past every window", ef, 2 * min, RequestDirectives{}, ReuseNone},
		{"RFC 5861 §3 within stale-while-revalidate", ef, min + 10*time.Second, RequestDirectives{}, ReuseStale},
		{"RFC 5861 §3 at the end of stale-while-revalidate", ef, min + 30*time.Second, RequestDirectives{}, ReuseNone},
		{"§5.2.1.4 request no-cache", ef, time.Second, req("no-cache"), ReuseNone},
		{"§5.4 Pragma: no-cache without Cache-Control", ef, time.Second, ParseRequestDirectives(header("Pragma", "no-cache")), ReuseNone},
		{"§5.4 Pragma ignored with Cache-Control", ef, time.Second, ParseRequestDirectives(header("Pragma", "no-cache", "Cache-Control", "max-stale=1")), ReuseFresh},
		{"§5.2.1.1 max-age older than asked", ef, 20 * time.Second, req("max-age=10"), ReuseNone},
		{"§5.2.1.1 max-age satisfied", ef, 5 * time.Second, req("max-age=10"), ReuseFresh},
		{"§5.2.1.3 min-fresh not met", ef, 50 * time.Second, req("min-fresh=20"), ReuseNone},
		{"§5.2.1.3 min-fresh met", ef, 10 * time.Second, req("min-fresh=20"), ReuseFresh},
		{"§5.2.1.2 max-stale within", ef, min + 50*time.Second, req("max-stale=60"), ReuseStale},
		{"§5.2.1.2 max-stale exceeded", ef, 3 * min, req("max-stale=60"), ReuseNone},
		{"§5.2.1.2 max-stale without value", ef, 100 * min, req("max-stale"), ReuseStale},
		{"§5.2.2.2 must-revalidate beats max-stale", mustReval, 2 * min, req("max-stale"), ReuseNone},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			if got := DecideReuse(r.ef, r.age, r.rd); got != r.want {
				t.Errorf("reuse = %v, want %v", got, r.want)
			}
		})
	}
	onError := []struct {
		name string
		ef   EntryFreshness
		age  time.Duration
		want bool
	}{
		{"RFC 5861 §4 within stale-if-error", ef, 30 * min, true},
		{"RFC 5861 §4 past stale-if-error", ef, 2 * time.Hour, false},
		{"§4.2.4 must-revalidate forbids stale on error", mustReval, 2 * min, false},
	}
	for _, r := range onError {
		t.Run(r.name, func(t *testing.T) {
			if got := DecideReuseOnError(r.ef, r.age, RequestDirectives{}); got != r.want {
				t.Errorf("reuse on error = %v, want %v", got, r.want)
			}
		})
	}
}

func TestDecideReuseWhenUnreachable(t *testing.T) {
	const window = 5 * time.Minute
	rows := []struct {
		name string
		cc   string
		age  time.Duration
		want bool
	}{
		{"§4.2.4 a disconnected cache serves stale within the window", "max-age=2", 3 * time.Second, true},
		{"§4.2.4 not past the window", "max-age=2", 2*time.Second + window + time.Second, false},
		{"RFC 5861 §4 stale-if-error longer than the window still counts", "max-age=2, stale-if-error=3600", 30 * time.Minute, true},
		{"§5.2.2.2 must-revalidate forbids it", "max-age=2, must-revalidate", 3 * time.Second, false},
		{"§5.2.2.8 proxy-revalidate forbids it in a shared cache", "max-age=2, proxy-revalidate", 3 * time.Second, false},
		{"§5.2.2.4 no-cache forbids it", "max-age=2, no-cache", 3 * time.Second, false},
		{"§5.2.2.10 s-maxage forbids it in a shared cache", "s-maxage=2", 3 * time.Second, false},
		{"§4.2.4 a fresh entry is always served", "max-age=60", 3 * time.Second, true},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			dec := DecideStore(respect, getReq, 200, header("Date", httpT0, "Cache-Control", r.cc, "Etag", `"a"`), t0, t0)
			ef := EntryFreshness{Freshness: dec.Freshness, StaleWhileRevalidate: dec.StaleWhileRevalidate, StaleIfError: dec.StaleIfError, MustRevalidate: dec.MustRevalidate}
			if got := DecideReuseWhenUnreachable(ef, r.age, RequestDirectives{}, window); got != r.want {
				t.Errorf("Cache-Control %q at age %v: reuse when unreachable = %v, want %v", r.cc, r.age, got, r.want)
			}
		})
	}
}

func TestRequestDirectives(t *testing.T) {
	rd := ParseRequestDirectives(header("Cache-Control", "max-age=5, only-if-cached", "Cache-Control", "no-store"))
	if !rd.HasMaxAge || rd.MaxAge != 5*time.Second || !rd.OnlyIfCached || !rd.NoStore {
		t.Errorf("§5.2.1 got %+v, want max-age 5s, only-if-cached, no-store across lines", rd)
	}
}

func TestVary(t *testing.T) {
	names, star := VaryNames(header("Vary", "accept-language, Accept-Encoding", "Vary", "Accept-Language"))
	if star || len(names) != 2 || names[0] != "Accept-Encoding" || names[1] != "Accept-Language" {
		t.Fatalf("VaryNames = %v %v, want [Accept-Encoding Accept-Language] false", names, star)
	}
	if _, star := VaryNames(header("Vary", "*")); !star {
		t.Error("§4.1 Vary: * not reported")
	}
	key := func(kv ...string) string { return VaryKey([]string{"Accept-Language"}, header(kv...)) }
	if key("Accept-Language", "en,  fr") != key("Accept-Language", "en , fr") {
		t.Error("§4.1 whitespace around commas must not split variants")
	}
	if key("Accept-Language", "en") == key("Accept-Language", "fr") {
		t.Error("§4.1 different values must select different variants")
	}
	if key() == key("Accept-Language", "") {
		t.Error("§4.1 an absent field must not match an empty one")
	}
	ae := func(v string) string { return VaryKey([]string{"Accept-Encoding"}, header("Accept-Encoding", v)) }
	al := func(v string) string { return VaryKey([]string{"Accept-Language"}, header("Accept-Language", v)) }
	if al("en-US;q=0.5, DE") != al("de,en-us;q=0.50") {
		t.Error("§4.1 Accept-Language differing in case, order of equal weights and q formatting should share a variant")
	}
	if al("de, en;q=0.5") == al("en, de;q=0.5") {
		t.Error("§4.1 Accept-Language with other preferences must select another variant")
	}
	if ae("gzip, deflate, br, zstd") != ae("br;q=1.0, gzip, zstd") {
		t.Error("Accept-Encoding of two browsers accepting br, gzip and zstd should share a variant")
	}
}

func TestAcceptFieldsNormalizeToOneSpellingPerMeaning(t *testing.T) {
	for _, field := range []struct {
		name      string
		normalize func(string) string
		rfc       string
		rows      map[string]string
	}{
		{"Accept-Encoding", NormalizeAcceptEncoding, "RFC 9110 §12.5.3", map[string]string{
			"gzip, deflate, br, zstd": "br, gzip, zstd",
			"gzip, deflate":           "gzip",
			"x-gzip":                  "gzip",
			"br;q=0, gzip;q=0.5":      "gzip",
			"*":                       "br, gzip, zstd",
			"*;q=0, gzip":             "gzip",
			"identity":                "identity",
			"deflate":                 "identity",
		}},
		{"Accept-Language", NormalizeAcceptLanguage, "RFC 9110 §12.5.4, §12.4.2", map[string]string{
			"de":                        "de",
			"en-US, en;q=0.9, de;q=0.8": "en-us,en;q=0.9,de;q=0.8",
			"de;q=0.8, en-US, en;q=0.9": "en-us,en;q=0.9,de;q=0.8",
			"FR-ch, fr;q=0.90":          "fr-ch,fr;q=0.9",
			"en;q=0, de":                "de",
			"de, de;q=0.5":              "de",
			"en;q=bogus, de;q=0.5":      "en,de;q=0.5",
			"*;q=0.1, en":               "en,*;q=0.1",
			"en;q=0.3333333":            "en;q=0.333",
			"  en ,  de  ":              "en,de",
		}},
	} {
		for in, want := range field.rows {
			if got := field.normalize(in); got != want {
				t.Errorf("%s %q normalizes to %q, want %q (%s)", field.name, in, got, want, field.rfc)
			}
		}
	}
}

func TestNotModified(t *testing.T) {
	stored := header("Etag", `W/"v1"`, "Last-Modified", t0.Format(http.TimeFormat), "Date", httpT0)
	noLM := header("Date", httpT0)
	req := func(method string, kv ...string) *http.Request {
		return &http.Request{Method: method, Header: header(kv...)}
	}
	rows := []struct {
		name   string
		req    *http.Request
		status int
		h      http.Header
		want   bool
	}{
		{"RFC 9110 §13.1.2 weak comparison matches", req("GET", "If-None-Match", `"v1"`), 200, stored, true},
		{"RFC 9110 §13.1.2 list", req("GET", "If-None-Match", `"x", W/"v1"`), 200, stored, true},
		{"RFC 9110 §13.1.2 no match", req("GET", "If-None-Match", `"v2"`), 200, stored, false},
		{"RFC 9110 §13.1.2 star", req("GET", "If-None-Match", `*`), 200, stored, true},
		{"RFC 9110 §13.2.2 If-None-Match wins over If-Modified-Since", req("GET", "If-None-Match", `"v2"`, "If-Modified-Since", httpT0), 200, stored, false},
		{"RFC 9110 §13.1.3 not modified since", req("GET", "If-Modified-Since", httpT0), 200, stored, true},
		{"RFC 9110 §13.1.3 modified since", req("GET", "If-Modified-Since", t0.Add(-time.Hour).Format(http.TimeFormat)), 200, stored, false},
		{"RFC 9110 §13.1.3 invalid date ignored", req("GET", "If-Modified-Since", "yesterday"), 200, stored, false},
		{"RFC 9111 §4.3.2 Date when no Last-Modified", req("GET", "If-Modified-Since", httpT0), 200, noLM, true},
		{"RFC 9110 §13.1.3 If-Modified-Since only for GET and HEAD", req("POST", "If-Modified-Since", httpT0), 200, stored, false},
		{"RFC 9110 §8.8.3 obs-text in an entity-tag", req("GET", "If-None-Match", "\"abc\xfc\""), 200, header("Etag", "\"abc\xfc\""), true},
		{"RFC 9110 §8.8.3 unquoted If-None-Match matches nothing", req("GET", "If-None-Match", "abc"), 200, header("Etag", `"abc"`), false},
		{"RFC 9110 §8.8.3 unquoted ETag matches nothing", req("GET", "If-None-Match", `"abc"`), 200, header("Etag", "abc"), false},
		{"RFC 9110 §8.8.3 unquoted on both sides matches nothing", req("GET", "If-None-Match", "abc"), 200, header("Etag", "abc"), false},
		{"RFC 9110 §8.8.3 lower-case weakness flag is malformed", req("GET", "If-None-Match", `w/"abc"`), 200, header("Etag", `w/"abc"`), false},
		{"RFC 9110 §8.8.3 a space inside a tag is malformed", req("GET", "If-None-Match", `"a b"`), 200, header("Etag", `"a b"`), false},
		{"RFC 9110 §13.1.2 last of several tags", req("GET", "If-None-Match", `"1234", "5678", "v1"`), 200, stored, true},
		{"only a 200 becomes 304", req("GET", "If-None-Match", `"v1"`), 404, stored, false},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			if got := NotModified(r.req, r.status, r.h); got != r.want {
				t.Errorf("NotModified = %v, want %v", got, r.want)
			}
		})
	}
}

func TestUpdateHeaders(t *testing.T) {
	// RFC 9111 §3.2: the 304's fields replace the stored ones, except
	// Content-Length.
	stored := header("Etag", `"a"`, "Content-Length", "10", "X-Test", "old", "Cache-Control", "max-age=1")
	got := UpdateHeaders(stored, header("X-Test", "new", "Content-Length", "0", "Cache-Control", "max-age=60"))
	if got.Get("X-Test") != "new" || got.Get("Content-Length") != "10" || got.Get("Cache-Control") != "max-age=60" || got.Get("Etag") != `"a"` {
		t.Errorf("updated = %v", got)
	}
	if stored.Get("X-Test") != "old" {
		t.Error("UpdateHeaders changed the stored header in place")
	}
}

func TestHeadMatches(t *testing.T) {
	lm := t0.Add(-time.Hour)
	stored := header("Etag", `"a"`, "Last-Modified", lm.Format(http.TimeFormat), "Content-Length", "10", "Template-A", "1")
	rows := []struct {
		name string
		head http.Header
		want bool
	}{
		{"§4.3.5 no validator and no length received: update", header("Cache-Control", "max-age=1000"), true},
		{"§4.3.5 same ETag, Last-Modified and Content-Length: update", header("Etag", `"a"`, "Last-Modified", lm.Format(http.TimeFormat), "Content-Length", "10"), true},
		{"§4.3.5 same Last-Modified in RFC 850 format: update", header("Last-Modified", lm.Format("Monday, 02-Jan-06 15:04:05 GMT")), true},
		{"§4.3.5 another ETag: the stored response changed", header("Etag", `"b"`), false},
		{"§4.3.5 weak ETag for a strong one: not the same value", header("Etag", `W/"a"`), false},
		{"§4.3.5 another Last-Modified: changed", header("Last-Modified", t0.Format(http.TimeFormat)), false},
		{"§4.3.5 another Content-Length: changed", header("Etag", `"a"`, "Content-Length", "11"), false},
	}
	for _, row := range rows {
		if got := HeadMatches(stored, row.head); got != row.want {
			t.Errorf("%s: HeadMatches = %v, want %v", row.name, got, row.want)
		}
	}
	if HeadMatches(header("Content-Length", "10"), header("Etag", `"a"`)) {
		t.Errorf("§4.3.5 an ETag received where none is stored: HeadMatches = true, want false (the validators do not match)")
	}
}

func TestCacheStatusString(t *testing.T) {
	rows := []struct {
		s    CacheStatus
		want string
	}{
		{CacheStatus{Name: "cachegate", Hit: true, TTL: 30 * time.Second, HasTTL: true}, "cachegate; hit; ttl=30"},
		{CacheStatus{Name: "cachegate", Fwd: "uri-miss", FwdStatus: 200, Stored: true, TTL: time.Minute, HasTTL: true}, "cachegate; fwd=uri-miss; fwd-status=200; stored; ttl=60"},
		{CacheStatus{Name: "edge cache", Fwd: "bypass", Detail: "no-store"}, `"edge cache"; fwd=bypass; detail=no-store`},
		{CacheStatus{Name: "c", Hit: true, TTL: -5 * time.Second, HasTTL: true, Detail: "stale"}, "c; hit; ttl=-5; detail=stale"},
	}
	for _, r := range rows {
		if got := r.s.String(); got != r.want {
			t.Errorf("RFC 9211 String() = %q, want %q", got, r.want)
		}
	}
}

func TestTargetedFieldsParseAsStructuredFields(t *testing.T) {
	rows := []struct {
		v     string
		valid bool
	}{
		{"max-age=60", true},
		{"max-age=60, stale-while-revalidate=10;x=1", true},
		{`no-cache, private, x="y"`, true},
		{"max-age=60,", false},
		{"Max-Age=60", false},
		{"max-age=60 foo", false},
		{`x="unterminated`, false},
	}
	for _, r := range rows {
		_, err := parseTargeted(r.v)
		if (err == nil) != r.valid {
			t.Errorf("RFC 8941 parse %q: err %v, want valid %v", r.v, err, r.valid)
		}
	}
}

func TestRefreshEarly(t *testing.T) {
	rows := []struct {
		name      string
		beta      float64
		delta     time.Duration
		remaining time.Duration
		rnd       float64
		want      bool
	}{
		{"far from expiry", 1, 100 * time.Millisecond, time.Hour, 0.5, false},
		{"close to expiry, unlucky draw", 1, 100 * time.Millisecond, 50 * time.Millisecond, 0.9, false},
		{"close to expiry", 1, 100 * time.Millisecond, 50 * time.Millisecond, 0.5, true},
		{"a larger beta refreshes earlier", 10, 100 * time.Millisecond, 500 * time.Millisecond, 0.5, true},
		{"beta 0 never", 0, 100 * time.Millisecond, time.Millisecond, 0.01, false},
		{"already expired: not early", 1, 100 * time.Millisecond, 0, 0.01, false},
	}
	for _, r := range rows {
		if got := RefreshEarly(r.beta, r.delta, r.remaining, r.rnd); got != r.want {
			t.Errorf("%s: RefreshEarly = %v, want %v", r.name, got, r.want)
		}
	}
}

func BenchmarkDecideStore(b *testing.B) {
	h := header("Cache-Control", "public, max-age=600, stale-while-revalidate=30", "Date", httpT0,
		"Etag", `"v1"`, "Content-Type", "text/html", "Vary", "Accept-Encoding")
	b.ReportAllocs()
	for b.Loop() {
		DecideStore(respect, getReq, 200, h, t0, t0)
	}
}

func BenchmarkReuseOfAHit(b *testing.B) {
	h := header("Date", httpT0, "Cache-Control", "max-age=600")
	req := header("Accept-Encoding", "gzip, br")
	ef := EntryFreshness{Freshness: 10 * time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		rd := ParseRequestDirectives(req)
		DecideReuse(ef, CurrentAge(h, t0, t0, t0.Add(time.Minute)), rd)
	}
}

func TestDecideReuseAfterError(t *testing.T) {
	const window = 5 * time.Minute
	rows := []struct {
		name    string
		ef      EntryFreshness
		age     time.Duration
		rd      RequestDirectives
		reached bool
		want    ErrorReuse
	}{
		{"RFC 5861 §4 a 5xx is replaced within stale-if-error", EntryFreshness{Freshness: time.Minute, StaleIfError: time.Hour}, 2 * time.Minute, RequestDirectives{}, true, ErrorReuseStaleIfError},
		{"RFC 5861 §4 a fresh entry replaces a 5xx", EntryFreshness{Freshness: time.Minute}, time.Second, RequestDirectives{}, true, ErrorReuseStaleIfError},
		{"§5.2.1.2 the client's max-stale replaces a 5xx", EntryFreshness{Freshness: time.Minute}, 2 * time.Minute, RequestDirectives{HasMaxStale: true, MaxStale: time.Hour}, true, ErrorReuseStaleIfError},
		{"§4.2.4 a 5xx past stale-if-error passes: the origin was reached", EntryFreshness{Freshness: time.Minute}, 2 * time.Minute, RequestDirectives{}, true, ErrorReuseNone},
		{"§4.2.4 unreachable: a disconnected cache serves stale within the window", EntryFreshness{Freshness: time.Minute}, 2 * time.Minute, RequestDirectives{}, false, ErrorReuseUnreachable},
		{"§4.2.4 unreachable: stale-if-error is named when it covers the age", EntryFreshness{Freshness: time.Minute, StaleIfError: time.Hour}, 2 * time.Minute, RequestDirectives{}, false, ErrorReuseStaleIfError},
		{"§4.2.4 unreachable: not past the window", EntryFreshness{Freshness: time.Minute}, time.Minute + window + time.Second, RequestDirectives{}, false, ErrorReuseNone},
		{"§5.2.2.2 must-revalidate: never stale, even disconnected", EntryFreshness{Freshness: time.Minute, StaleIfError: time.Hour, MustRevalidate: true}, 2 * time.Minute, RequestDirectives{}, false, ErrorReuseNone},
	}
	for _, r := range rows {
		if got := DecideReuseAfterError(r.ef, r.age, r.rd, r.reached, window); got != r.want {
			t.Errorf("%s: DecideReuseAfterError = %v, want %v", r.name, got, r.want)
		}
	}
}

func TestSharesFill(t *testing.T) {
	rows := []struct {
		name string
		rd   RequestDirectives
		h    http.Header
		want bool
	}{
		{"a plain request leads a shared fill", RequestDirectives{}, http.Header{}, true},
		{"§5.2.1.5 no-store: its response is not stored", RequestDirectives{NoStore: true}, http.Header{}, false},
		{"§3.5 Authorization: its response is not handed to others", RequestDirectives{}, header("Authorization", "Bearer x"), false},
		{"§5.2.1.4 no-cache still shares: the fill validates for all", RequestDirectives{NoCache: true}, http.Header{}, true},
	}
	for _, r := range rows {
		if got := SharesFill(r.rd, r.h); got != r.want {
			t.Errorf("%s: SharesFill = %v, want %v", r.name, got, r.want)
		}
	}
}

func TestDecideRefreshEarly(t *testing.T) {
	const fill = 100 * time.Millisecond
	rows := []struct {
		name      string
		beta      float64
		remaining time.Duration
		rnd       float64
		want      bool
	}{
		{"XFetch: far from expiry, no refresh", 1, time.Hour, 0.5, false},
		{"XFetch: its draw decides before two fill times", 10, 500 * time.Millisecond, 0.5, true},
		{"less than two fill times left: always, whatever the draw", 1, 2 * fill, 1, true},
		{"just over two fill times, unlucky draw: not yet", 1, 2*fill + time.Millisecond, 0.99, false},
		{"beta 0 never", 0, time.Millisecond, 0.01, false},
		{"already stale: the stale rules apply, not early refresh", 1, 0, 0.01, false},
	}
	for _, r := range rows {
		if got := DecideRefreshEarly(r.beta, fill, r.remaining, r.rnd); got != r.want {
			t.Errorf("%s: DecideRefreshEarly = %v, want %v", r.name, got, r.want)
		}
	}
}
