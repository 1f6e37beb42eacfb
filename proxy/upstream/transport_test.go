package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
)

// mutualTLSServer starts an https server with a certificate for
// upstream.test that requires a client certificate signed by clientCA.
func mutualTLSServer(t *testing.T, dir string, clientCA *x509.Certificate) (url, caFile string) {
	t.Helper()
	certFile, keyFile, _ := testutil.WriteSelfSigned(t, dir, "upstream.test")
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(clientCA)
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "over tls") }))
	s.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	s.StartTLS()
	t.Cleanup(s.Close)
	return s.URL, certFile
}

func TestAnHTTPSUpstreamIsVerifiedWithTheBackendsCAAndNameAndGetsItsClientCertificate(t *testing.T) {
	dir := t.TempDir()
	clientCert, clientKey, clientCA := testutil.WriteSelfSigned(t, dir, "cachegate.test")
	url, ca := mutualTLSServer(t, dir, clientCA)
	full := config.UpstreamTLS{CAFile: ca, ServerName: "upstream.test", CertFile: clientCert, KeyFile: clientKey}
	for _, tc := range []struct {
		name string
		tls  config.UpstreamTLS
		want string // a substring of the error, "" for success
	}{
		{"everything", full, ""},
		{"without the CA", config.UpstreamTLS{ServerName: "upstream.test", CertFile: clientCert, KeyFile: clientKey}, "certificate"},
		{"without the server name", config.UpstreamTLS{CAFile: ca, CertFile: clientCert, KeyFile: clientKey}, "certificate"},
		{"without the client certificate", config.UpstreamTLS{CAFile: ca, ServerName: "upstream.test"}, "certificate"},
	} {
		b := &config.Backend{Name: "tls", MaxIdleConns: 1, TLS: tc.tls,
			Timeouts: config.OriginTimeouts{Connect: config.Duration(5 * time.Second), ResponseHeader: config.Duration(5 * time.Second), Idle: config.Duration(time.Second)}}
		tr, err := NewTransport(b)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp, err := (&http.Client{Transport: tr}).Get(url)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want the upstream reached", tc.name, err)
		case tc.want == "" && resp.StatusCode != 200:
			t.Errorf("%s: %d, want 200", tc.name, resp.StatusCode)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want a TLS failure", tc.name, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
		tr.CloseIdleConnections()
	}
}
