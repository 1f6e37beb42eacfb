package policy

import (
	"net/http/httptest"
	"testing"
)

func TestAnEncodedSlashIsNoSeparatorWhenRoutesMatch(t *testing.T) {
	cfg := mustParse(t, routesConfig)
	for _, tc := range []struct{ url, want string }{
		// The origin receives "/static%2Fprofile": to many origins one
		// segment, maybe a dynamic page, not a file below /static/.
		{"/static%2Fprofile", "default"},
		{"/static%2fprofile", "default"},
		{"/docs/v1%2Fv2/index.html", "one-level"},
		// Other escapes are decoded as before.
		{"/st%61tic/app.js", "static"},
		{"/static/a%20b.js", "static"},
		{"/img/a%2Fb.png", "png"},
	} {
		r := httptest.NewRequest("GET", tc.url, nil)
		if got := cfg.Route(r).Name; got != tc.want {
			t.Errorf("GET %s matched route %q, want %q", tc.url, got, tc.want)
		}
	}
}
