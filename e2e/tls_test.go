package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

// certWait bounds the wait for an instance to obtain a certificate.
const certWait = 30 * time.Second

// handshake does a TLS handshake with addr for serverName, trusting roots,
// and returns the leaf the server presented.
func handshake(addr, serverName string, roots *x509.CertPool) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: serverName, RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// waitCertificate retries handshakes until the instance serves a
// certificate for name that roots trust.
func waitCertificate(t *testing.T, in *instance, addr, name string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(certWait)
	for {
		leaf, err := handshake(addr, name, roots)
		if err == nil {
			return leaf
		}
		if time.Now().After(deadline) {
			t.Fatalf("no trusted certificate for %s on %s within %v: %v\n%s", name, addr, certWait, err, in.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// certKeys returns the keys of the certmagic storage in Redis under prefix
// that contain s.
func certKeys(t *testing.T, prefix, s string) []string {
	t.Helper()
	c := testutil.RedisClient(t)
	defer c.Close()
	all, err := c.SMembers(context.Background(), "{"+prefix+"}:certs:index").Result()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, k := range all {
		if strings.Contains(k, s) {
			keys = append(keys, k)
		}
	}
	return keys
}

func TestTLSACMECertificateServedOverHTTP2(t *testing.T) {
	pb := startPebble(t)
	o := startOrigin(t)
	https := freeAddr(t)
	in := startInstance(t, setup{origin: o.URL, extra: pb.acmeYAML(https, fmt.Sprintf(`    domains: [localhost]
    storage_dir: %q
`, t.TempDir()))})
	roots := pb.Roots(t)
	leaf := waitCertificate(t, in, https, "localhost", roots)
	if err := leaf.VerifyHostname("localhost"); err != nil {
		t.Errorf("served certificate: %v", err)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: "localhost"},
		ForceAttemptHTTP2: true,
	}}
	resp, err := client.Get("https://" + https + "/max-age/60/tls")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Errorf("GET over HTTPS: %d %s, want 200 over HTTP/2 (body %q)", resp.StatusCode, resp.Proto, body)
	}
	if n := pb.Count("Issued certificate serial"); n != 1 {
		t.Errorf("Pebble issued %d certificates, want 1", n)
	}
}

func TestTLSACMEInstancesSharingRedisObtainOneCertificate(t *testing.T) {
	pb := startPebble(t)
	o := startOrigin(t)
	prefix := testutil.UniquePrefix(t)
	https1, https2 := freeAddr(t), freeAddr(t)
	first := startInstance(t, setup{origin: o.URL, backend: "redis", prefix: prefix, extra: pb.acmeYAML(https1, "    domains: [localhost]\n")})
	second := startInstance(t, setup{origin: o.URL, backend: "redis", prefix: prefix, extra: pb.acmeYAML(https2, "    domains: [localhost]\n")})
	roots := pb.Roots(t)
	leaf1 := waitCertificate(t, first, https1, "localhost", roots)
	leaf2 := waitCertificate(t, second, https2, "localhost", roots)
	if leaf1.SerialNumber.Cmp(leaf2.SerialNumber) != 0 {
		t.Errorf("serials %x and %x: want both instances to serve the same certificate", leaf1.SerialNumber, leaf2.SerialNumber)
	}
	// Pebble logs one "Added order" line per new order and one "Issued
	// certificate serial" line per certificate; the shared storage keeps
	// one certificate for localhost.
	if orders, issued := pb.Count("Added order"), pb.Count("Issued certificate serial"); orders != 1 || issued != 1 {
		t.Errorf("Pebble saw %d orders and issued %d certificates, want 1 and 1", orders, issued)
	}
	if keys := certKeys(t, prefix, "localhost.crt"); len(keys) != 1 {
		t.Errorf("certificate keys in Redis: %q, want one", keys)
	}
}

// TestTLSOnDemandIssuesOnlyWhatAskApproves configures a domain too: it is
// obtained at start without asking, and on-demand names are still asked.
func TestTLSOnDemandIssuesOnlyWhatAskApproves(t *testing.T) {
	pb := startPebble(t)
	o := startOrigin(t)
	var mu sync.Mutex
	asked := map[string]int{}
	ask := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("domain")
		mu.Lock()
		asked[name]++
		mu.Unlock()
		if name != "ok.localhost" {
			http.Error(w, "not ours", http.StatusForbidden)
		}
	}))
	defer ask.Close()
	prefix := testutil.UniquePrefix(t)
	https := freeAddr(t)
	in := startInstance(t, setup{origin: o.URL, backend: "redis", prefix: prefix, extra: pb.acmeYAML(https, fmt.Sprintf(`    domains: [localhost]
    on_demand: true
    ask: %q
`, ask.URL))})
	roots := pb.Roots(t)
	waitCertificate(t, in, https, "localhost", roots)
	leaf := waitCertificate(t, in, https, "ok.localhost", roots)
	if err := leaf.VerifyHostname("ok.localhost"); err != nil {
		t.Errorf("certificate served for the approved name: %v", err)
	}
	if _, err := handshake(https, "no.localhost", roots); err == nil {
		t.Errorf("handshake for the refused name no.localhost succeeded, want it to fail")
	}
	if keys := certKeys(t, prefix, "no.localhost"); len(keys) != 0 {
		t.Errorf("storage keys for the refused name: %q, want none", keys)
	}
	for _, name := range []string{"localhost", "ok.localhost"} {
		if keys := certKeys(t, prefix, "/"+name+".crt"); len(keys) != 1 {
			t.Errorf("certificate keys for %s: %q, want one", name, keys)
		}
	}
	if n := pb.Count("Added order"); n != 2 {
		t.Errorf("Pebble saw %d orders, want 2 (localhost and ok.localhost)", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if asked["localhost"] != 0 || asked["ok.localhost"] == 0 || asked["no.localhost"] == 0 {
		t.Errorf("ask URL asked %v, want ok.localhost and no.localhost, not the configured localhost", asked)
	}
}

// staticYAML is the tls section serving one static certificate.
func staticYAML(https, certFile, keyFile string) string {
	return fmt.Sprintf(`tls:
  listen: %q
  certificates:
    - cert_file: %q
      key_file: %q
`, https, certFile, keyFile)
}

func TestTLSStaticCertificateServed(t *testing.T) {
	o := startOrigin(t)
	certFile, keyFile, cert := testutil.WriteSelfSigned(t, t.TempDir(), "static.test")
	https := freeAddr(t)
	in := startInstance(t, setup{origin: o.URL, extra: staticYAML(https, certFile, keyFile)})
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	leaf := waitCertificate(t, in, https, "static.test", roots)
	if leaf.SerialNumber.Cmp(cert.SerialNumber) != 0 {
		t.Errorf("served serial %x, want the configured certificate's %x", leaf.SerialNumber, cert.SerialNumber)
	}
}

func TestTLSBadCertificateFilesRefusedAtStart(t *testing.T) {
	o := startOrigin(t)
	dir := t.TempDir()
	certFile, _, _ := testutil.WriteSelfSigned(t, dir, "a.test")
	_, otherKey, _ := testutil.WriteSelfSigned(t, dir, "b.test")
	for _, c := range []struct {
		name, cert, key string
		want            []string
	}{
		{"missing file", filepath.Join(dir, "missing.crt"), otherKey, []string{"tls.certificates[0]: cannot load certificate", "missing.crt", "no such file"}},
		{"key of another certificate", certFile, otherKey, []string{"tls.certificates[0]: cannot load certificate", "a.test.crt", "b.test.key"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := setup{origin: o.URL, extra: staticYAML(freeAddr(t), c.cert, c.key)}
			cfgPath := filepath.Join(t.TempDir(), "cachegate.yaml")
			if err := os.WriteFile(cfgPath, []byte(s.yaml(freeAddr(t), freeAddr(t))), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"validate", "-config", cfgPath}, {"-config", cfgPath}} {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
				cancel()
				for _, want := range c.want {
					if err == nil || !strings.Contains(string(out), want) {
						t.Errorf("cachegate %s: err %v, output %q; want a failure saying %q", strings.Join(args, " "), err, out, want)
					}
				}
			}
		})
	}
}
