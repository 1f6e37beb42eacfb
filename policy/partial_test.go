package policy

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestParseContentRange(t *testing.T) {
	rows := []struct {
		name, v string
		want    ContentRange
		ok      bool
	}{
		{"RFC 9110 §14.4 a byte range of a known length", "bytes 4-9/10", ContentRange{4, 9, 10}, true},
		{"RFC 9110 §14.4 one byte", "bytes 0-0/1", ContentRange{0, 0, 1}, true},
		{"RFC 9110 §14.4 unknown complete length", "bytes 0-4/*", ContentRange{}, false},
		{"RFC 9110 §14.4 unsatisfied-range", "bytes */10", ContentRange{}, false},
		{"RFC 9110 §14.4 last past the length", "bytes 0-10/10", ContentRange{}, false},
		{"RFC 9110 §14.4 first after last", "bytes 5-4/10", ContentRange{}, false},
		{"RFC 9110 §14.4 a sign is not a digit", "bytes +1-4/10", ContentRange{}, false},
		{"RFC 9110 §14.4 another unit", "items 0-4/10", ContentRange{}, false},
		{"RFC 9110 §14.4 overflow", "bytes 0-1/99999999999999999999", ContentRange{}, false},
	}
	for _, row := range rows {
		got, ok := ParseContentRange(row.v)
		if ok != row.ok || got != row.want {
			t.Errorf("%s: ParseContentRange(%q) = %v, %v, want %v, %v", row.name, row.v, got, ok, row.want, row.ok)
		}
	}
}

func TestRangesWithin(t *testing.T) {
	held := ContentRange{First: 5, Last: 9, Size: 10}
	rows := []struct {
		name, spec string
		want       bool
	}{
		{"RFC 9111 §3.3 suffix range wholly held", "bytes=-5", true},
		{"RFC 9111 §3.3 int-range wholly held", "bytes=6-8", true},
		{"RFC 9111 §3.3 open int-range wholly held", "bytes=6-", true},
		{"RFC 9111 §3.3 last past the length is clipped (RFC 9110 §14.1.2)", "bytes=6-100", true},
		{"RFC 9111 §3.3 several ranges, all held", "bytes=5-6, 8-9", true},
		{"RFC 9111 §3.3 starts before what is held", "bytes=4-6", false},
		{"RFC 9110 §14.2 overlapping ranges adding up to more than the whole", "bytes=5-9, 5-9, 5-9", false},
		{"RFC 9111 §3.3 one of several ranges not held", "bytes=5-6, 0-1", false},
		{"RFC 9111 §3.3 a longer suffix than is held", "bytes=-6", false},
		{"RFC 9110 §14.1.2 unsatisfiable first-pos: the origin answers 416", "bytes=10-", false},
		{"RFC 9110 §14.1.2 zero suffix is unsatisfiable", "bytes=-0", false},
		{"RFC 9110 §14.1.1 malformed", "bytes=a-b", false},
		{"RFC 9110 §14.1.1 last before first", "bytes=8-6", false},
		{"RFC 9110 §14.1.1 another unit", "items=5-6", false},
		{"RFC 9110 §14.1.1 no range", "bytes=", false},
		{"RFC 9110 §5.6.3 only SP and HTAB are OWS: a vertical tab spoils the range", "bytes=7-\v", false},
		{"RFC 9110 §14.1.1 nothing before the unit (net/http refuses it)", " bytes=6-7", false},
	}
	for _, row := range rows {
		if got := RangesWithin(row.spec, held); got != row.want {
			t.Errorf("%s: RangesWithin(%q, 5-9/10) = %v, want %v", row.name, row.spec, got, row.want)
		}
	}
}

func TestDecideStorePartial(t *testing.T) {
	rows := []struct {
		name  string
		h     http.Header
		store bool
	}{
		{"RFC 9111 §3.3 one byte range of a known length, fresh", header("Cache-Control", "max-age=3600", "Content-Range", "bytes 0-4/10"), true},
		{"RFC 9111 §3.3 unknown length", header("Cache-Control", "max-age=3600", "Content-Range", "bytes 0-4/*"), false},
		{"RFC 9111 §3.3 multipart (no Content-Range of its own)", header("Cache-Control", "max-age=3600", "Content-Type", "multipart/byteranges; boundary=x"), false},
		{"RFC 9111 §5.2.2.5 no-store", header("Cache-Control", "no-store", "Content-Range", "bytes 0-4/10"), false},
		{"RFC 9111 §5.2.2.7 private", header("Cache-Control", "private, max-age=3600", "Content-Range", "bytes 0-4/10"), false},
	}
	for _, row := range rows {
		if dec := DecideStorePartial(respect, getReq, row.h, t0, t0); dec.Store != row.store {
			t.Errorf("%s: store %v (%s), want %v", row.name, dec.Store, dec.Reason, row.store)
		}
	}
}

func TestCompletionOf(t *testing.T) {
	rows := []struct {
		name string
		h    http.Header
		want Completion
		rng  string
		ok   bool
	}{
		{"RFC 9111 §3.4 a prefix with a strong ETag asks for the rest", header("ETag", `"v1"`, "Content-Range", "bytes 0-3/10"), Completion{ContentRange{4, 9, 10}, `"v1"`}, "bytes=4-", true},
		{"RFC 9111 §3.4 a suffix with a strong ETag asks for the start", header("ETag", `"v1"`, "Content-Range", "bytes 6-9/10"), Completion{ContentRange{0, 5, 10}, `"v1"`}, "bytes=0-5", true},
		{"RFC 9111 §3.4 a weak ETag is not combined (RFC 9110 §8.8.1)", header("ETag", `W/"v1"`, "Content-Range", "bytes 0-3/10"), Completion{}, "", false},
		{"RFC 9111 §3.4 no ETag (Last-Modified alone is not asked for)", header("Last-Modified", httpT0, "Content-Range", "bytes 0-3/10"), Completion{}, "", false},
		{"RFC 9110 §8.8.3 a malformed ETag is no validator", header("ETag", `v1`, "Content-Range", "bytes 0-3/10"), Completion{}, "", false},
		{"RFC 9110 §8.8.3 two ETags are no validator", header("ETag", `"v1"`, "ETag", `"v1"`, "Content-Range", "bytes 0-3/10"), Completion{}, "", false},
		{"RFC 9111 §3.4 a middle part is fetched whole", header("ETag", `"v1"`, "Content-Range", "bytes 2-5/10"), Completion{}, "", false},
		{"RFC 9111 §3.4 a part holding everything lacks nothing", header("ETag", `"v1"`, "Content-Range", "bytes 0-9/10"), Completion{}, "", false},
		{"RFC 9111 §3.4 no Content-Range", header("ETag", `"v1"`), Completion{}, "", false},
	}
	for _, row := range rows {
		got, ok := CompletionOf(row.h)
		if ok != row.ok || got != row.want || (ok && got.Range() != row.rng) {
			t.Errorf("%s: CompletionOf = %v, %v (Range %q), want %v, %v (Range %q)", row.name, got, ok, got.Range(), row.want, row.ok, row.rng)
		}
	}
}

func TestCompletionCompletes(t *testing.T) {
	c := Completion{Missing: ContentRange{4, 9, 10}, ETag: `"v1"`}
	rows := []struct {
		name   string
		status int
		h      http.Header
		want   bool
	}{
		{"RFC 9111 §3.4 the missing bytes with the same strong validator combine", 206, header("ETag", `"v1"`, "Content-Range", "bytes 4-9/10"), true},
		{"RFC 9111 §3.4 another ETag: the validators do not match", 206, header("ETag", `"v2"`, "Content-Range", "bytes 4-9/10"), false},
		{"RFC 9111 §3.4 the same tag made weak does not match strongly", 206, header("ETag", `W/"v1"`, "Content-Range", "bytes 4-9/10"), false},
		{"RFC 9111 §3.4 no ETag", 206, header("Content-Range", "bytes 4-9/10"), false},
		{"RFC 9111 §3.4 another complete length is another representation", 206, header("ETag", `"v1"`, "Content-Range", "bytes 4-10/11"), false},
		{"RFC 9111 §3.4 fewer bytes than are missing", 206, header("ETag", `"v1"`, "Content-Range", "bytes 4-8/10"), false},
		{"RFC 9111 §3.4 more bytes than are missing", 206, header("ETag", `"v1"`, "Content-Range", "bytes 3-9/10"), false},
		{"RFC 9110 §14.6 multipart: no Content-Range of its own", 206, header("ETag", `"v1"`, "Content-Type", "multipart/byteranges; boundary=x"), false},
		{"RFC 9110 §15.3.1 a 200 is stored whole, not combined", 200, header("ETag", `"v1"`, "Content-Range", "bytes 4-9/10"), false},
	}
	for _, row := range rows {
		if got := c.Completes(row.status, row.h); got != row.want {
			t.Errorf("%s: Completes(%d, %v) = %v, want %v", row.name, row.status, row.h, got, row.want)
		}
	}
}

func TestCompletionCombinedHeaderIsTheNewerResponsesWithTheWholeLength(t *testing.T) {
	c := Completion{Missing: ContentRange{4, 9, 10}, ETag: `"v1"`}
	h := c.CombinedHeader(header("ETag", `"v1"`, "Content-Range", "bytes 4-9/10", "Content-Length", "6", "Cache-Control", "max-age=60"))
	if h.Get("Content-Range") != "" || h.Get("Content-Length") != "10" || h.Get("Cache-Control") != "max-age=60" {
		t.Errorf("RFC 9111 §3.4: combined header %v, want the newer fields, Content-Length 10, no Content-Range", h)
	}
}

func TestAPartServesOnlyRangesItHoldsWhole(t *testing.T) {
	part := header("Content-Range", "bytes 0-99/1000")
	rows := []struct {
		name, method, rng, ifRange string
		want                       bool
	}{
		{"§3.3 a range inside the part", http.MethodGet, "bytes=10-20", "", true},
		{"§3.3 a HEAD of a range inside the part", http.MethodHead, "bytes=0-99", "", true},
		{"§3.3 a range past the part", http.MethodGet, "bytes=50-150", "", false},
		{"§3.3 the whole representation", http.MethodGet, "", "", false},
		{"RFC 9110 §13.1.5 If-Range may need the whole", http.MethodGet, "bytes=10-20", `"a"`, false},
		{"a POST is never answered from a part", http.MethodPost, "bytes=10-20", "", false},
	}
	for _, r := range rows {
		req := httptest.NewRequest(r.method, "/", nil)
		if r.rng != "" {
			req.Header.Set("Range", r.rng)
		}
		if r.ifRange != "" {
			req.Header.Set("If-Range", r.ifRange)
		}
		if got := PartServes(req, part); got != r.want {
			t.Errorf("%s: PartServes = %v, want %v", r.name, got, r.want)
		}
	}
}

func TestBodyFitsWhatItsStatusSays(t *testing.T) {
	part := header("Content-Range", "bytes 0-99/1000")
	rows := []struct {
		name   string
		status int
		h      http.Header
		n      int
		want   bool
	}{
		{"RFC 9110 §14.4 a 206 of exactly its range", http.StatusPartialContent, part, 100, true},
		{"RFC 9110 §14.4 a 206 shorter than its range", http.StatusPartialContent, part, 99, false},
		{"RFC 9110 §14.4 a 206 without Content-Range", http.StatusPartialContent, http.Header{}, 100, false},
		{"a 200 of any length", http.StatusOK, http.Header{}, 7, true},
	}
	for _, r := range rows {
		if got := BodyFits(r.status, r.h, r.n); got != r.want {
			t.Errorf("%s: BodyFits = %v, want %v", r.name, got, r.want)
		}
	}
}
