package certs

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
)

func TestStaticCertificatesAreChosenBySNIWithTheFirstAsDefault(t *testing.T) {
	dir := t.TempDir()
	c1, k1, _ := testutil.WriteSelfSigned(t, dir, "a.test")
	c2, k2, _ := testutil.WriteSelfSigned(t, dir, "b.test", "*.b.test")
	m, err := New(config.TLSConfig{Certificates: []config.CertificateFiles{{CertFile: c1, KeyFile: k1}, {CertFile: c2, KeyFile: k2}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for sni, want := range map[string]string{"a.test": "a.test", "b.test": "b.test", "x.b.test": "b.test", "other.test": "a.test", "": "a.test"} {
		c, err := m.TLSConfig().GetCertificate(&tls.ClientHelloInfo{ServerName: sni})
		if err != nil || c.Leaf.Subject.CommonName != want {
			t.Errorf("certificate for SNI %q: %v, %v; want the one for %s", sni, c, err, want)
		}
	}
	if exp := m.Expiries(); len(exp) != 3 || exp["*.b.test"].IsZero() {
		t.Errorf("Expiries = %v, want a.test, b.test and *.b.test", exp)
	}
	if err := m.Err(); err != nil {
		t.Errorf("Err with static certificates only = %v, want nil", err)
	}
}

func TestNewNamesTheCertificateFileItCannotLoad(t *testing.T) {
	_, err := New(config.TLSConfig{Certificates: []config.CertificateFiles{{CertFile: "/nonexistent.crt", KeyFile: "/nonexistent.key"}}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent.crt") {
		t.Errorf("New with a missing certificate file: %v, want an error naming it", err)
	}
}

func TestNextProtosFollowHTTP2(t *testing.T) {
	off := false
	dir := t.TempDir()
	c, k, _ := testutil.WriteSelfSigned(t, dir, "a.test")
	files := []config.CertificateFiles{{CertFile: c, KeyFile: k}}
	on, _ := New(config.TLSConfig{Certificates: files}, Options{})
	noH2, _ := New(config.TLSConfig{Certificates: files, HTTP2: &off}, Options{})
	if got := strings.Join(on.TLSConfig().NextProtos, ","); got != "h2,http/1.1" {
		t.Errorf("NextProtos = %s, want h2,http/1.1", got)
	}
	if got := strings.Join(noH2.TLSConfig().NextProtos, ","); got != "http/1.1" {
		t.Errorf("NextProtos with http2 false = %s, want http/1.1", got)
	}
}

// TestHTTPHandlerAnswersChallengesBeforeRedirecting stores an HTTP-01
// challenge in Redis, as another instance that placed the order would, and
// asks this instance's plain handler for its token.
func TestHTTPHandlerAnswersChallengesBeforeRedirecting(t *testing.T) {
	c := testutil.RedisClient(t)
	m, err := New(config.TLSConfig{
		Listen:       ":8443",
		RedirectHTTP: true,
		ACME:         config.ACMEConfig{CA: "https://127.0.0.1:1/dir", Domains: []string{"example.test"}},
	}, Options{Redis: c, Prefix: testutil.UniquePrefix(t), Log: testutil.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	chal, _ := json.Marshal(acme.Challenge{
		Type: acme.ChallengeTypeHTTP01, Token: "tok_en", KeyAuthorization: "tok_en.thumbprint",
		Identifier: acme.Identifier{Type: "dns", Value: "example.test"},
	})
	key := path.Join("acme", certmagic.StorageKeys.Safe(m.issuer.IssuerKey()), "challenge_tokens", "example.test.json")
	if err := m.magic.Storage.Store(context.Background(), key, chal); err != nil {
		t.Fatal(err)
	}
	h := m.HTTPHandler(http.NotFoundHandler())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://example.test:8080/a?b=c", nil))
	if loc := rec.Header().Get("Location"); rec.Code != http.StatusPermanentRedirect || loc != "https://example.test:8443/a?b=c" {
		t.Errorf("plain request: %d to %q, want 308 to https://example.test:8443/a?b=c", rec.Code, loc)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://[::1]:8080/", nil))
	if loc := rec.Header().Get("Location"); loc != "https://[::1]:8443/" {
		t.Errorf("plain request to [::1]:8080: redirected to %q, want https://[::1]:8443/", loc)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://example.test/.well-known/acme-challenge/tok_en", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "tok_en.thumbprint" {
		t.Errorf("challenge request: %d %q, want 200 with the key authorization", rec.Code, rec.Body.String())
	}
	if err := m.Err(); err == nil || !strings.Contains(err.Error(), "example.test") {
		t.Errorf("Err before any certificate = %v, want one naming example.test", err)
	}
}
