package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/store"
)

func TestAnOriginWithAPathIsAskedUnderItAsBefore(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {})
	cfg, err := config.Parse("test.yaml", []byte(fmt.Sprintf("origin: %q\n", o.URL+"/base")))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := policy.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(rules, Options{Store: store.NewMemory(1 << 20), Logger: testutil.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	w := httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://site.test/a/b?x=1", nil))
	if got := o.last(); got.URL.RequestURI() != "/base/a/b?x=1" || got.Host != "site.test" {
		t.Errorf("the origin was asked %s with Host %s, want /base/a/b?x=1 with the client's Host", got.URL.RequestURI(), got.Host)
	}
}
