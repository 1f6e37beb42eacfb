package policy

import (
	"net/http"
	"testing"
	"time"
)

func TestStoreTTL(t *testing.T) {
	const limit = 24 * time.Hour
	none, etag, lastMod := http.Header{}, header("Etag", `"a"`), header("Last-Modified", httpT0)
	rows := []struct {
		name        string
		ef          EntryFreshness
		h           http.Header
		unreachable time.Duration
		want        time.Duration
	}{
		{"§4.2.1 freshness alone", EntryFreshness{Freshness: time.Minute}, none, 0, time.Minute},
		{"RFC 5861 §3 stale-while-revalidate is kept", EntryFreshness{Freshness: time.Minute, StaleWhileRevalidate: 2 * time.Minute}, none, 0, 3 * time.Minute},
		{"RFC 5861 §4 the longest stale window counts", EntryFreshness{Freshness: time.Minute, StaleWhileRevalidate: time.Minute, StaleIfError: 5 * time.Minute}, none, 0, 6 * time.Minute},
		{"§4.2.4 a disconnected cache's window is kept", EntryFreshness{Freshness: time.Minute}, none, 5 * time.Minute, 6 * time.Minute},
		{"§5.2.2.2 must-revalidate: no disconnected window", EntryFreshness{Freshness: time.Minute, MustRevalidate: true}, none, 5 * time.Minute, time.Minute},
		{"§4.3.1 an ETag keeps it for revalidation", EntryFreshness{Freshness: time.Minute}, etag, 0, time.Minute + KeepForRevalidation},
		{"§4.3.1 a Last-Modified keeps it for revalidation", EntryFreshness{Freshness: time.Minute}, lastMod, 0, time.Minute + KeepForRevalidation},
		{"a zero lifetime is kept a second", EntryFreshness{}, none, 0, time.Second},
		{"never past the store's cap, which purge marks outlive", EntryFreshness{Freshness: 365 * 24 * time.Hour}, etag, 0, limit},
	}
	for _, r := range rows {
		if got := StoreTTL(r.ef, r.h, r.unreachable, limit); got != r.want {
			t.Errorf("%s: StoreTTL = %v, want %v", r.name, got, r.want)
		}
	}
}

func TestFillStoreBoundIsTheConnectionAndTwiceTheResponseHeaderTimeout(t *testing.T) {
	if got, want := FillStoreBound(5*time.Second, 30*time.Second), 65*time.Second; got != want {
		t.Errorf("FillStoreBound(5s, 30s) = %v, want %v (connect, headers, and as long again for the body)", got, want)
	}
}

func TestASoftPurgedEntryIsStaleAndServedWhileOneRefreshRuns(t *testing.T) {
	rows := []struct {
		name string
		ef   EntryFreshness
		age  time.Duration
		want Reuse
	}{
		{"a fresh entry is stale now, served while revalidating (RFC 5861 §3)", EntryFreshness{Freshness: time.Hour}, 10 * time.Second, ReuseStale},
		{"an entry older than its stale-while-revalidate still is", EntryFreshness{Freshness: time.Minute, StaleWhileRevalidate: 5 * time.Second}, 30 * time.Second, ReuseStale},
		{"§5.2.2.2 must-revalidate: never served stale", EntryFreshness{Freshness: time.Hour, MustRevalidate: true}, 10 * time.Second, ReuseNone},
	}
	for _, r := range rows {
		ef := SoftPurged(r.ef, r.age)
		if ef.Freshness != 0 || ef.TTL(r.age) > 0 {
			t.Errorf("%s: soft purged freshness %v, TTL %v; want 0 and not positive", r.name, ef.Freshness, ef.TTL(r.age))
		}
		if got := DecideReuse(ef, r.age, RequestDirectives{}); got != r.want {
			t.Errorf("%s: DecideReuse after a soft purge = %v, want %v", r.name, got, r.want)
		}
	}
}

func TestJitterShortensOnlyTheRoutesTTL(t *testing.T) {
	rows := []struct {
		name   string
		dec    StoreDecision
		jitter float64
		rnd    float64
		want   time.Duration
	}{
		{"the route's TTL loses up to the fraction", StoreDecision{Freshness: 100 * time.Second, RouteTTL: true}, 0.1, 0.5, 95 * time.Second},
		{"no draw, no loss", StoreDecision{Freshness: 100 * time.Second, RouteTTL: true}, 0.1, 0, 100 * time.Second},
		{"§4.2.1 the origin's lifetime is kept exact", StoreDecision{Freshness: 100 * time.Second}, 0.1, 0.5, 100 * time.Second},
		{"jitter 0 keeps the route's TTL", StoreDecision{Freshness: 100 * time.Second, RouteTTL: true}, 0, 0.5, 100 * time.Second},
	}
	for _, r := range rows {
		if got := r.dec.Jittered(r.jitter, r.rnd).Freshness; got != r.want {
			t.Errorf("%s: jittered freshness %v, want %v", r.name, got, r.want)
		}
	}
}

func TestLimitedRefusesRequestNoStoreAndTooLargeBodies(t *testing.T) {
	store := StoreDecision{Store: true, Freshness: time.Minute}
	private := StoreDecision{Reason: "private"}
	rows := []struct {
		name       string
		dec        StoreDecision
		rd         RequestDirectives
		length     int64
		wantStore  bool
		wantReason string
	}{
		{"within the bound", store, RequestDirectives{}, 10, true, ""},
		{"unknown length: bounded while read", store, RequestDirectives{}, -1, true, ""},
		{"§5.2.1.5 the request's no-store", store, RequestDirectives{NoStore: true}, 10, false, "request-no-store"},
		{"§5.2.1.5 the request's no-store is named over the response's reason", private, RequestDirectives{NoStore: true}, 10, false, "request-no-store"},
		{"a length above max_object_bytes", store, RequestDirectives{}, 101, false, "too-large"},
		{"a response not stored keeps its reason", private, RequestDirectives{}, 101, false, "private"},
	}
	for _, r := range rows {
		got := r.dec.Limited(r.rd, r.length, 100)
		if got.Store != r.wantStore || got.Reason != r.wantReason {
			t.Errorf("%s: store %v reason %q, want %v %q", r.name, got.Store, got.Reason, r.wantStore, r.wantReason)
		}
	}
}
