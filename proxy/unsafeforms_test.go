package proxy

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// queryApartRoutes are two routes storing the same URLs under different
// URL forms: requests with X-Preview keep every query parameter in their
// key, the others drop utm_* (the default ignore_query). With
// stale_if_unreachable off, entries leave the store at the end of their
// freshness.
const queryApartRoutes = `default_route: {stale_if_unreachable: 0s}
routes:
  - name: preview
    match:
      path: /p/
      headers: [{name: X-Preview, present: true}]
    key: {headers: [X-Preview], ignore_query: []}
    stale_if_unreachable: 0s
`

func TestAnUnsafeRequestInvalidatesEveryFormARouteStoresItsTargetUnder(t *testing.T) {
	const target = "/p/x?a=1&utm_source=mail"
	for _, tc := range []struct {
		name     string
		post     string
		location string   // Location of the POST's answer, when set
		kv       []string // fields of the POST
	}{
		{"a POST taking the default route", target, "", nil},
		{"a POST taking the conditional route", target, "", []string{"X-Preview", "1"}},
		{"the Location of a POST's answer", "/p/new", target, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := counter("max-age=600")
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					if tc.location != "" {
						w.Header().Set("Location", tc.location)
					}
					w.WriteHeader(http.StatusCreated)
					return
				}
				h(w, r)
			})
			c := newCache(t, o, queryApartRoutes)
			forms := map[string][]string{
				"the conditional route's (query kept whole)": {"X-Preview", "1"},
				"the default route's (utm_source dropped)":   nil,
			}
			for whose, kv := range forms {
				c.get(t, target, kv...)
				if resp, _ := c.get(t, target, kv...); !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
					t.Fatalf("%s entry was not stored: Cache-Status %q", whose, resp.Header.Get("Cache-Status"))
				}
			}
			marks := recordMarks(c)
			resp, _ := c.do(t, http.MethodPost, tc.post, tc.kv...)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("POST answered %d", resp.StatusCode)
			}
			// Each form is looked up by its own URL record or entry: the
			// mark lives as long as the entries, not the whole horizon.
			marks.wantOneKeptFor(t, 600*time.Second, tc.name, "the entries' 10 minutes")
			if n := len(marks.calls()[0].scopes); n != 2 {
				t.Errorf("%s marked %d URL scopes, want the 2 forms", tc.name, n)
			}
			for whose, kv := range forms {
				if resp, _ := c.get(t, target, kv...); !strings.Contains(resp.Header.Get("Cache-Status"), "fwd=miss") {
					t.Errorf("after %s, %s entry of %s was served (Cache-Status %q), want fwd=miss (RFC 9111 §4.4)", tc.name, whose, target, resp.Header.Get("Cache-Status"))
				}
			}
		})
	}
}
