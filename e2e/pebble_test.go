package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

// pebbleVersion is the Pebble (Let's Encrypt's test ACME server) the TLS
// tests install from the Go module proxy.
const pebbleVersion = "v2.10.1"

var (
	pebbleOnce sync.Once
	pebbleBin  string // the installed binary
	pebbleCert string // directory of Pebble's own test certificates
	pebbleErr  error
	pebbleSkip bool // the module proxy is unreachable
)

// installPebble installs Pebble once into a directory of the system's
// temporary directory that later runs reuse (`go install pkg@version` with
// GOBIN set does not touch this module's go.mod).
func installPebble() {
	dir := filepath.Join(os.TempDir(), "cachegate-e2e-pebble-"+pebbleVersion)
	pebbleBin = filepath.Join(dir, "pebble")
	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		pebbleErr = fmt.Errorf("go env GOMODCACHE: %w", err)
		return
	}
	pebbleCert = filepath.Join(strings.TrimSpace(string(modcache)), "github.com/letsencrypt/pebble/v2@"+pebbleVersion, "test", "certs")
	if _, err := os.Stat(pebbleBin); err == nil {
		if _, err := os.Stat(pebbleCert); err == nil {
			return
		}
	}
	cmd := exec.Command("go", "install", "github.com/letsencrypt/pebble/v2/cmd/pebble@"+pebbleVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		pebbleErr = fmt.Errorf("go install pebble@%s: %w\n%s", pebbleVersion, err, out)
		for _, s := range []string{"dial tcp", "no such host", "connection refused", "i/o timeout", "proxyconnect"} {
			if bytes.Contains(out, []byte(s)) {
				pebbleSkip = true
			}
		}
	}
}

// pebble is one running Pebble ACME server.
type pebble struct {
	// Dir is the ACME directory URL.
	Dir string
	// CARoot is the PEM file of the root of Pebble's own HTTPS listener.
	CARoot string
	mgmt   string
	log    *testutil.Buffer
}

// startPebble runs a Pebble that accepts every challenge without checking
// it (PEBBLE_VA_ALWAYS_VALID) and answers at once; the test is skipped
// only when Pebble cannot be installed because the module proxy is
// unreachable.
func startPebble(t *testing.T) *pebble {
	t.Helper()
	pebbleOnce.Do(installPebble)
	if pebbleSkip {
		t.Skipf("the Go module proxy is unreachable, so Pebble cannot be installed: %v", pebbleErr)
	}
	if pebbleErr != nil {
		t.Fatal(pebbleErr)
	}
	listen, mgmt := freeAddr(t), freeAddr(t)
	_, httpPort, _ := net.SplitHostPort(freeAddr(t))
	_, tlsPort, _ := net.SplitHostPort(freeAddr(t))
	cfg := fmt.Sprintf(`{"pebble": {
  "listenAddress": %q,
  "managementListenAddress": %q,
  "certificate": %q,
  "privateKey": %q,
  "httpPort": %s,
  "tlsPort": %s,
  "ocspResponderURL": "",
  "externalAccountBindingRequired": false,
  "retryAfter": {"authz": 0, "order": 0},
  "profiles": {"default": {"description": "default", "validityPeriod": 7776000}}
}}`, listen, mgmt, filepath.Join(pebbleCert, "localhost", "cert.pem"), filepath.Join(pebbleCert, "localhost", "key.pem"), httpPort, tlsPort)
	cfgPath := filepath.Join(t.TempDir(), "pebble.json")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &pebble{
		Dir:    "https://" + listen + "/dir",
		CARoot: filepath.Join(pebbleCert, "pebble.minica.pem"),
		mgmt:   "https://" + mgmt,
		log:    &testutil.Buffer{},
	}
	cmd := exec.Command(pebbleBin, "-config", cfgPath)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_ALWAYS_VALID=1", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("pebble log:\n%s", p.log.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := p.client(t).Get(p.Dir)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-exited:
			t.Fatalf("pebble exited at start:\n%s", p.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not answer %s: %v\n%s", p.Dir, err, p.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// client is an HTTP client that trusts Pebble's own HTTPS listeners.
func (p *pebble) client(t *testing.T) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(p.CARoot)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
}

// Roots returns the root that Pebble's issued certificates chain to (a new
// one each run), fetched from the management listener.
func (p *pebble) Roots(t *testing.T) *x509.CertPool {
	t.Helper()
	resp, err := p.client(t).Get(p.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pem, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("no PEM certificate at %s/roots/0: %q", p.mgmt, pem)
	}
	return roots
}

// Count returns how many lines of Pebble's log contain s: "Added order"
// counts orders, "Issued certificate serial" issued certificates.
func (p *pebble) Count(s string) int {
	return strings.Count(p.log.String(), s)
}

// acmeYAML is the tls section of an instance getting certificates from p.
func (p *pebble) acmeYAML(httpsListen string, acme string) string {
	return fmt.Sprintf(`tls:
  listen: %q
  acme:
    ca: %q
    ca_root: %q
%s`, httpsListen, p.Dir, p.CARoot, acme)
}
