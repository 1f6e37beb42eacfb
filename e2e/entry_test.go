package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/cachegate/cachegate/internal/testutil"
)

// TestDebugEntryFindsEntriesOfRoutesKeyingHeadersAndCookies stores an
// entry under a route keying a request header and one keying a cookie
// and finds each through /debug/entry with the fields that key it: a
// header with h=, a cookie with cookie= or with the whole Cookie field
// in h=. A Cookie field with an unescaped ';' is refused with the reason,
// never looked up without it.
func TestDebugEntryFindsEntriesOfRoutesKeyingHeadersAndCookies(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL, backend: "tiered", prefix: testutil.UniquePrefix(t), extra: `routes:
  - name: by-lang
    match: {path: /max-age/60/lang}
    key: {headers: [X-Lang]}
  - name: by-cookie
    match: {path: /max-age/60/cookie}
    key: {cookies: [theme]}
`})
	in.do(http.MethodGet, "/max-age/60/lang", http.Header{"X-Lang": {"de"}})
	in.do(http.MethodGet, "/max-age/60/cookie", http.Header{"Cookie": {"session=x; theme=dark"}})
	entry := func(path, fields string) (int, string, string) {
		t.Helper()
		resp, body := in.admin(http.MethodGet, "/debug/entry?url="+url.QueryEscape("http://site.test"+path)+fields)
		var out struct{ Entry struct{ Route string } }
		json.Unmarshal([]byte(body), &out)
		return resp.StatusCode, out.Entry.Route, body
	}
	for _, c := range []struct{ path, fields, route string }{
		{"/max-age/60/lang", "&h=" + url.QueryEscape("X-Lang: de"), "by-lang"},
		{"/max-age/60/cookie", "&cookie=theme=dark", "by-cookie"},
		{"/max-age/60/cookie", "&cookie=other=1&cookie=theme=dark", "by-cookie"},
		{"/max-age/60/cookie", "&h=" + url.QueryEscape("Cookie: a=1; theme=dark"), "by-cookie"},
	} {
		if code, route, body := entry(c.path, c.fields); code != 200 || route != c.route {
			t.Errorf("/debug/entry of %s with %s: %d %s, want the entry of route %s", c.path, c.fields, code, body, c.route)
		}
	}
	if code, _, body := entry("/max-age/60/cookie", "&cookie=theme=light"); code != 404 {
		t.Errorf("/debug/entry with a cookie value never stored: %d %s, want 404", code, body)
	}
	if code, _, body := entry("/max-age/60/cookie", "&h=Cookie:a=1;theme=dark"); code != 400 {
		t.Errorf("/debug/entry with an unescaped ';': %d %s, want 400 saying so (not a lookup without the field)", code, body)
	}
}
