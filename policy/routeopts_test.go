package policy

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/config"
)

func TestAnEmptyTargetedFieldsObeysNoTargetedField(t *testing.T) {
	cfg := mustParse(t, "origin: http://o\ncache:\n  targeted_fields: []\nroutes:\n  - name: a\n    match: {path: /a/}\n")
	a, dr := cfg.routes[0], cfg.defaultRoute
	if len(a.targetFields()) != 0 || len(dr.targetFields()) != 0 {
		t.Errorf("targetFields = %q, %q, want none after targeted_fields: []", a.targetFields(), dr.targetFields())
	}
}

func TestRouteSetCookieModes(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		stores bool
		omit   []string
	}{
		{config.SetCookiePass, false, nil},
		{config.SetCookieStrip, true, []string{"Set-Cookie"}},
		{config.SetCookieStore, true, nil},
	} {
		rt := &Route{Route: config.Route{SetCookie: tc.mode}}
		if rt.storesSetCookie() != tc.stores || !reflect.DeepEqual(rt.omittedSetCookie(), tc.omit) {
			t.Errorf("set_cookie %s: stores %v, omits %q; want %v, %q", tc.mode, rt.storesSetCookie(), rt.omittedSetCookie(), tc.stores, tc.omit)
		}
	}
}

func TestStripStoresAResponseWithoutItsSetCookie(t *testing.T) {
	cfg := mustParse(t, "origin: http://o\ndefault_route:\n  set_cookie: strip\n")
	req, _ := http.NewRequest(http.MethodGet, "http://o/", nil)
	now := time.Now()
	for _, h := range []http.Header{
		{"Cache-Control": {"max-age=60"}, "Set-Cookie": {"s=1"}},
		{"Cdn-Cache-Control": {"max-age=60"}, "Set-Cookie": {"s=1"}},
	} {
		dec := DecideStore(&cfg.defaultRoute, req, http.StatusOK, h, now, now)
		if !dec.Store || !strings.Contains(strings.Join(dec.OmitHeaders, ","), "Set-Cookie") {
			t.Errorf("response %v: store %v, omit %q; want stored without Set-Cookie", h, dec.Store, dec.OmitHeaders)
		}
	}
}
