package policy

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/dunglas/httpsfv"
)

// TestTargetedFieldIsObeyedOnlyWhenItParsesAsAStructuredDictionary feeds a
// CDN-Cache-Control field that says max-age=60 beside Cache-Control:
// max-age=5. Where the targeted field parses as an RFC 9651 Dictionary it
// takes precedence (RFC 9213 §2.2) and the response is fresh for 60s;
// where it does not, the whole field is ignored (RFC 9213 §2.1, RFC 9651
// §4.2) and Cache-Control's 5s apply. Each row cites the parsing step that
// decides it.
func TestTargetedFieldIsObeyedOnlyWhenItParsesAsAStructuredDictionary(t *testing.T) {
	const obeyed, ignored = 60 * time.Second, 5 * time.Second
	rows := []struct {
		name  string
		field string
		want  time.Duration
	}{
		{"an integer member (RFC 9651 §4.2.4)", "max-age=60", obeyed},
		{"a repeated key: the last value wins (RFC 9651 §4.2.2)", "max-age=10, max-age=60", obeyed},
		{"parameters are parsed and ignored (RFC 9651 §4.2.3.2, RFC 9213 §2.1)", `max-age=60;ext="x";n=1.5, public`, obeyed},
		{"an inner list member with parameters (RFC 9651 §4.2.1.2)", `ext=("a" tok 1;q=2);lvl=1, max-age=60`, obeyed},
		{"a decimal with four fractional digits fails (RFC 9651 §4.2.4: at most three digits after the point)", "max-age=60, ext=1.2345", ignored},
		{"a decimal with 13 integer digits fails (RFC 9651 §4.2.4: at most twelve digits before the point)", "max-age=60, ext=1234567890123.5", ignored},
		{"a minus sign not followed by a digit fails (RFC 9651 §4.2.4: a digit must follow the sign)", "max-age=60, ext=-.5", ignored},
		{"a byte sequence with a character outside base64 fails (RFC 9651 §4.2.7)", "max-age=60, ext=:aGVsbG8*:", ignored},
		{"a date is a bare item (RFC 9651 §3.3.7, §4.2.9)", "max-age=60, ext=@1659578233", obeyed},
		{"a display string is a bare item (RFC 9651 §3.3.8, §4.2.10)", `max-age=60, ext=%"caf%c3%a9"`, obeyed},
		{"a trailing comma fails (RFC 9651 §4.2.2)", "max-age=60,", ignored},
		{"an upper-case key fails (RFC 9651 §4.2.3.3)", "Max-Age=60", ignored},
		{"an empty field is ignored (RFC 9213 §2.1)", "", ignored},
		{"a display string that is not UTF-8 fails (RFC 9651 §4.2.10: at most three digits after the point)", `max-age=60, ext=%"%ff"`, ignored},
	}
	for _, r := range rows {
		h := header("CDN-Cache-Control", r.field, "Cache-Control", "max-age=5")
		dec := DecideStore(respect, getReq, http.StatusOK, h, t0, t0)
		if !dec.Store || dec.Freshness != r.want {
			t.Errorf("%s: CDN-Cache-Control %q: store %v, freshness %v; want stored, fresh for %v", r.name, r.field, dec.Store, dec.Freshness, r.want)
		}
	}
}

// TestTargetedFieldLinesAreCombinedBeforeParsing checks that two lines of
// one targeted field are one Dictionary (RFC 9651 §4.2), and that a bad
// member on either line makes the whole field ignored.
func TestTargetedFieldLinesAreCombinedBeforeParsing(t *testing.T) {
	h := header("CDN-Cache-Control", "public", "CDN-Cache-Control", "max-age=60", "Cache-Control", "max-age=5")
	if dec := DecideStore(respect, getReq, http.StatusOK, h, t0, t0); dec.Freshness != time.Minute {
		t.Errorf("two lines public / max-age=60: freshness %v, want 1m0s from the combined field", dec.Freshness)
	}
	h = header("CDN-Cache-Control", "max-age=60", "CDN-Cache-Control", "ext=1.2345", "Cache-Control", "max-age=5")
	if dec := DecideStore(respect, getReq, http.StatusOK, h, t0, t0); dec.Freshness != 5*time.Second {
		t.Errorf("a bad second line: freshness %v, want 5s from Cache-Control (the whole targeted field ignored)", dec.Freshness)
	}
}

// TestCacheGroupsAreAStructuredListOfStrings follows RFC 9875 §2 and §3:
// Cache-Groups and Cache-Group-Invalidation are Lists whose String members
// name groups; other members and parameters are ignored, and a field that
// does not parse is ignored as a whole (RFC 9651 §4.2).
func TestCacheGroupsAreAStructuredListOfStrings(t *testing.T) {
	rows := []struct {
		name  string
		lines []string
		want  []string
	}{
		{"strings (RFC 9875 §2)", []string{`"scripts", "assets"`}, []string{"scripts", "assets"}},
		{"escapes are undone (RFC 9651 §4.2.5)", []string{`"a\"b\\c"`}, []string{`a"b\c`}},
		{"members that are not strings are ignored (RFC 9875 §2)", []string{`"a";p=1, tok, ("x" "y"), 7, "b"`}, []string{"a", "b"}},
		{"lines are combined (RFC 9651 §4.2)", []string{`"a"`, `"b"`}, []string{"a", "b"}},
		{"an unterminated string: the field is ignored (RFC 9651 §4.2.5)", []string{`"a", "b`}, nil},
		{"members without a comma: the field is ignored (RFC 9651 §4.2.1)", []string{`"a" "b"`}, nil},
		{"an invalid escape: the field is ignored (RFC 9651 §4.2.5)", []string{`"a\qb"`}, nil},
		{"a bad decimal beside a group: the field is ignored (RFC 9651 §4.2.4)", []string{`"a", 1.2345`}, nil},
		{"a non-ASCII byte in a string: the field is ignored (RFC 9651 §4.2.5)", []string{"\"caf\u00e9\""}, nil},
	}
	for _, r := range rows {
		h := http.Header{}
		for _, l := range r.lines {
			h.Add("Cache-Groups", l)
		}
		if got := CacheGroups(h, "Cache-Groups"); !slices.Equal(got, r.want) {
			t.Errorf("%s: Cache-Groups %q: %q, want %q", r.name, r.lines, got, r.want)
		}
	}
}

// TestCacheStatusIsAValidStructuredListMember parses what String writes
// with a conforming parser: one List member whose value is the cache's
// name and whose parameters are those of RFC 9211 §2, with strings
// escaped (RFC 9651 §4.1.6) and names that are no token quoted.
func TestCacheStatusIsAValidStructuredListMember(t *testing.T) {
	s := CacheStatus{Name: "edge cache", Fwd: "uri-miss", FwdStatus: 200, Stored: true, Collapsed: true,
		TTL: -3 * time.Second, HasTTL: true, Key: `example.com/a"b\c`, Detail: "needs quoting: yes"}
	list, err := httpsfv.UnmarshalList([]string{s.String()})
	if err != nil || len(list) != 1 {
		t.Fatalf("RFC 9211 §2: %q does not parse as a one-member List: %v", s.String(), err)
	}
	item, ok := list[0].(httpsfv.Item)
	if !ok || item.Value != "edge cache" {
		t.Fatalf("RFC 9211 §2: member %#v, want the string \"edge cache\"", list[0])
	}
	want := map[string]any{
		"fwd": httpsfv.Token("uri-miss"), "fwd-status": int64(200), "stored": true, "collapsed": true,
		"ttl": int64(-3), "key": `example.com/a"b\c`, "detail": "needs quoting: yes",
	}
	for k, v := range want {
		if got, _ := item.Params.Get(k); got != v {
			t.Errorf("RFC 9211 §2 parameter %s = %#v, want %#v (serialized %q)", k, got, v, s.String())
		}
	}
	if _, hit := item.Params.Get("hit"); hit {
		t.Errorf("RFC 9211 §2.1: hit present in %q for a forwarded request", s.String())
	}
}

// TestCacheStatusDropsWhatAStringCannotCarry: an sf-string holds only
// printable ASCII (RFC 9651 §3.3.3); a name, key or detail with other
// bytes is written without them rather than as an invalid field.
func TestCacheStatusDropsWhatAStringCannotCarry(t *testing.T) {
	s := CacheStatus{Name: "c\u00e9", Hit: true, Key: "k\x00\u00e9y", Detail: "a\tb"}
	list, err := httpsfv.UnmarshalList([]string{s.String()})
	if err != nil || len(list) != 1 {
		t.Fatalf("%q does not parse as a one-member List: %v", s.String(), err)
	}
	item := list[0].(httpsfv.Item)
	key, _ := item.Params.Get("key")
	detail, _ := item.Params.Get("detail")
	if name := fmt.Sprint(item.Value); name != "c" || key != "ky" || fmt.Sprint(detail) != "ab" {
		t.Errorf("%q: name %q, key %q, detail %q; want c, ky, ab", s.String(), name, key, detail)
	}
}

// TestTargetedMaxAgeBeyondTheDurationRangeIsCapped: an sf-integer may have
// 15 digits (RFC 9651 §3.3.1), more seconds than a time.Duration holds; it
// is capped at 2^31 seconds (RFC 9111 §1.2.2), never wrapped around.
func TestTargetedMaxAgeBeyondTheDurationRangeIsCapped(t *testing.T) {
	for _, v := range []string{"max-age=9999999999", "max-age=99999999999999", "max-age=999999999999999"} {
		h := header("CDN-Cache-Control", v)
		if dec := DecideStore(respect, getReq, http.StatusOK, h, t0, t0); !dec.Store || dec.Freshness != maxDelta {
			t.Errorf("CDN-Cache-Control: %s: store %v, freshness %v; want stored for %v (RFC 9111 §1.2.2)", v, dec.Store, dec.Freshness, maxDelta)
		}
	}
}

// FuzzCacheStatusIsAlwaysAValidListMember: whatever a name, key or detail
// holds, String writes one valid List member (RFC 9651 §4.2.1) whose key
// parameter is the key without what an sf-string cannot carry.
func FuzzCacheStatusIsAlwaysAValidListMember(f *testing.F) {
	f.Add("cachegate", "example.com/a?b=c", "stale-while-revalidate", 200, int64(-5))
	f.Add("edge \"cache\"", "k\\\"\x00\xff", "a b;c=d, e", 0, int64(1<<40))
	f.Add("", "", "1abc", 599, int64(0))
	f.Fuzz(func(t *testing.T, name, key, detail string, status int, ttl int64) {
		s := CacheStatus{Name: name, Hit: status == 0, Fwd: "miss", FwdStatus: status % 1000, Stored: true,
			TTL: time.Duration(ttl % (1 << 40)), HasTTL: true, Key: key, Detail: detail}
		list, err := httpsfv.UnmarshalList([]string{s.String()})
		if err != nil || len(list) != 1 {
			t.Fatalf("%q: %v, want one valid List member", s.String(), err)
		}
		if got, _ := list[0].(httpsfv.Item).Params.Get("key"); key != "" && printable(key) != "" && got != printable(key) {
			t.Errorf("key parameter %q, want %q", got, printable(key))
		}
	})
}

// TestCacheStatusWordMemoIsBounded: the memo of serialized names and
// details keeps at most maxWords of them, whatever callers pass.
func TestCacheStatusWordMemoIsBounded(t *testing.T) {
	for i := range 4 * maxWords {
		name := fmt.Sprintf("cache-%d", i)
		if got, want := (CacheStatus{Name: name}).String(), name; got != want {
			t.Fatalf("String() = %q, want %q", got, want)
		}
	}
	n := 0
	words.Range(func(any, any) bool { n++; return true })
	if n > maxWords {
		t.Errorf("%d serialized words kept, want at most %d", n, maxWords)
	}
}

// FuzzTargetedFieldNeverPanicsAndIsAllOrNothing: whatever a targeted field
// holds, DecideStore decides without panicking, and a field that does not
// parse is ignored as a whole: none of its members (max-age=60) counts,
// Cache-Control's max-age=5 does (RFC 9213 §2.1).
func FuzzTargetedFieldNeverPanicsAndIsAllOrNothing(f *testing.F) {
	for _, s := range []string{"ext=1.2345", "ext=@1659578233", `ext=%"caf%c3%a9"`, "ext=:aGk=:", `ext=("a" b);p`, "ext"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ext string) {
		h := header("CDN-Cache-Control", "max-age=60, "+ext, "Cache-Control", "max-age=5")
		dec := DecideStore(respect, getReq, http.StatusOK, h, t0, t0)
		_, err := httpsfv.UnmarshalDictionary([]string{"max-age=60, " + ext})
		if err != nil && dec.Freshness != 5*time.Second {
			t.Errorf("%q does not parse (%v): freshness %v, want Cache-Control's 5s", ext, err, dec.Freshness)
		}
	})
}
