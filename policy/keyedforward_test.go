package policy

import (
	"net/http"
	"testing"

	"github.com/cachegate/cachegate/config"
)

func TestKeyedFieldsReachTheOriginAsTheyWereKeyed(t *testing.T) {
	rt := &Route{Route: config.Route{KeyOptions: config.KeyOptions{Headers: []string{"x-tenant"}, Cookies: []string{"lang"}}}}
	for _, tc := range []struct {
		name string
		in   http.Header
		want http.Header
	}{
		{"a keyed header on two lines becomes the one line keyed",
			http.Header{"X-Tenant": {" a ", "b"}}, http.Header{"X-Tenant": {"a,b"}}},
		{"a keyed cookie sent twice keeps its first value, the one keyed",
			http.Header{"Cookie": {"lang=de; sid=1; lang=fr"}}, http.Header{"Cookie": {"sid=1; lang=de"}}},
		{"a keyed cookie on two Cookie lines keeps its first value",
			http.Header{"Cookie": {"lang=de", "lang=fr; sid=1"}}, http.Header{"Cookie": {"sid=1; lang=de"}}},
		{"a keyed cookie Go cannot read is not forwarded, as it is not keyed",
			http.Header{"Cookie": {"lang=d\"e; sid=\xc3\xa9"}}, http.Header{"Cookie": {"sid=\xc3\xa9"}}},
		{"a quoted keyed value is forwarded unquoted, as keyed; others keep their quotes",
			http.Header{"Cookie": {`lang="fr"; sid="x"`}}, http.Header{"Cookie": {`sid="x"; lang=fr`}}},
		{"unkeyed duplicates are left to the origin",
			http.Header{"Cookie": {"sid=1; sid=2"}}, http.Header{"Cookie": {"sid=1; sid=2"}}},
		{"no keyed field, nothing changes",
			http.Header{"Accept": {"*/*"}}, http.Header{"Accept": {"*/*"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := rt.KeyOf(Target{Scheme: "http", Host: "h", Path: "/"}, tc.in)
			h := tc.in.Clone()
			rt.ForwardKeyedFields(h)
			if len(h) != len(tc.want) {
				t.Fatalf("got %v, want %v", h, tc.want)
			}
			for name, vs := range tc.want {
				if len(h[name]) != len(vs) || h.Get(name) != vs[0] {
					t.Errorf("%s: got %q, want %q", name, h[name], vs)
				}
			}
			if after := rt.KeyOf(Target{Scheme: "http", Host: "h", Path: "/"}, h); after != before {
				t.Errorf("the forwarded fields key as %q, the request as %q: they must be one", after.String(), before.String())
			}
		})
	}
}
