package proxy

import (
	"net/http"
	"testing"
)

// TestATargetedFieldIsObeyedOnlyWhenItIsAValidDictionary runs an origin
// whose Cache-Control says no-store and whose CDN-Cache-Control says
// max-age=60 beside an extension member: with an RFC 9651 date or display
// string the targeted field is valid and takes precedence (RFC 9213 §2.2),
// so the second request is a hit; with a decimal of four fractional
// digits it is invalid and ignored as a whole (RFC 9213 §2.1), so no-store
// applies and both requests go to the origin.
func TestATargetedFieldIsObeyedOnlyWhenItIsAValidDictionary(t *testing.T) {
	for _, tc := range []struct {
		field  string
		stored bool
	}{
		{"max-age=60, ext=@1659578233", true},
		{`max-age=60, ext=%"caf%c3%a9"`, true},
		{"max-age=60, ext=1.2345", false},
		{"max-age=60, ext=:aGVsbG8*:", false},
	} {
		o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("CDN-Cache-Control", tc.field)
		})
		c := newCache(t, o, "")
		c.get(t, "/targeted")
		resp, _ := c.get(t, "/targeted")
		if hits, want := o.hits.Load(), map[bool]int64{true: 1, false: 2}[tc.stored]; hits != want {
			t.Errorf("CDN-Cache-Control %q: %d origin requests for two GETs (Cache-Status %q), want %d", tc.field, hits, resp.Header.Get("Cache-Status"), want)
		}
	}
}
