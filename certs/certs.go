package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
	"github.com/redis/go-redis/v9"
)

// defaultStorageDir is where certificates are kept on disk when there is
// neither Redis nor tls.acme.storage_dir.
const defaultStorageDir = "./certmagic"

// Backoff of Start while the certificate storage does not answer.
const (
	storageRetryMin = time.Second
	storageRetryMax = time.Minute
)

// Options are what a Manager needs beyond the tls section of the config.
type Options struct {
	// Redis, when not nil and tls.acme.storage_dir is empty, holds
	// certificates, ACME accounts and locks (RedisStorage), shared by every
	// instance on it; otherwise they are kept in tls.acme.storage_dir,
	// default "./certmagic".
	Redis redis.UniversalClient
	// Prefix starts the Redis keys (the store's key prefix).
	Prefix string
	// Log receives certmagic's messages. Default slog.Default().
	Log *slog.Logger
	// HTTPPort and TLSALPNPort are the ports of the proxy's plain and
	// HTTPS listeners, which answer the HTTP-01 and TLS-ALPN-01 challenges.
	// certmagic then does not open listeners of its own on 80 and 443.
	// 0 means the standard port.
	HTTPPort    int
	TLSALPNPort int
}

// Manager provides the certificates of the HTTPS listener: static ones
// from files, chosen by SNI with the first as the default, and ACME ones
// obtained and renewed by certmagic.
type Manager struct {
	cfg    config.TLSConfig
	log    *slog.Logger
	static []tls.Certificate // Leaf set

	// ACME; nil without tls.acme.domains and on_demand. managed obtains
	// and renews the configured domains; magic serves handshakes and, with
	// on_demand, obtains certificates for approved names (it is managed
	// without on_demand).
	managed *certmagic.Config
	magic   *certmagic.Config
	issuer  *certmagic.ACMEIssuer // magic's
	cache   *certmagic.Cache

	stop context.CancelFunc // ends Start's work
	wg   sync.WaitGroup

	mu       sync.Mutex
	approved map[string]bool // on-demand names the ask URL approved
}

// New loads the static certificates of cfg and, when cfg asks for ACME,
// prepares certmagic with its storage (Redis when opts.Redis is set);
// nothing is obtained before Start.
func New(cfg config.TLSConfig, opts Options) (*Manager, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	m := &Manager{cfg: cfg, log: opts.Log, approved: make(map[string]bool)}
	for i, c := range cfg.Certificates {
		pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("certs: tls.certificates[%d]: load %s with key %s: %w", i, c.CertFile, c.KeyFile, err)
		}
		m.static = append(m.static, pair)
	}
	if len(cfg.ACME.Domains) == 0 && !cfg.ACME.OnDemand {
		return m, nil
	}
	var roots *x509.CertPool
	if cfg.ACME.CARoot != "" {
		pem, err := os.ReadFile(cfg.ACME.CARoot)
		if err != nil {
			return nil, fmt.Errorf("certs: tls.acme.ca_root: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("certs: tls.acme.ca_root: no PEM certificate in %s", cfg.ACME.CARoot)
		}
	}
	var storage certmagic.Storage
	if opts.Redis != nil && cfg.ACME.StorageDir == "" {
		storage = NewRedisStorage(opts.Redis, opts.Prefix, opts.Log)
	} else {
		dir := cfg.ACME.StorageDir
		if dir == "" {
			dir = defaultStorageDir
		}
		storage = &certmagic.FileStorage{Path: dir}
	}
	zl := zapLogger(opts.Log)
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return m.magic, nil },
		Logger:           zl,
	})
	issuer := certmagic.ACMEIssuer{
		CA:             cfg.ACME.CA,
		TestCA:         cfg.ACME.CA,
		Email:          cfg.ACME.Email,
		Agreed:         true,
		TrustedRoots:   roots,
		AltHTTPPort:    opts.HTTPPort,
		AltTLSALPNPort: opts.TLSALPNPort,
		Logger:         zl,
	}
	// Two configs on one cache and storage: certmagic's Manage only
	// allow-lists the domains of a config that has OnDemand set, instead of
	// obtaining them, and then refuses every other name on demand.
	m.managed = certmagic.New(m.cache, certmagic.Config{Storage: storage, Logger: zl})
	m.issuer = certmagic.NewACMEIssuer(m.managed, issuer)
	m.managed.Issuers = []certmagic.Issuer{m.issuer}
	m.magic = m.managed
	if cfg.ACME.OnDemand {
		m.magic = certmagic.New(m.cache, certmagic.Config{
			Storage:  storage,
			Logger:   zl,
			OnDemand: &certmagic.OnDemandConfig{DecisionFunc: m.ask},
		})
		m.issuer = certmagic.NewACMEIssuer(m.magic, issuer)
		m.magic.Issuers = []certmagic.Issuer{m.issuer}
	}
	return m, nil
}

// Start begins managing tls.acme.domains in the background and returns at
// once: it waits until the certificate storage answers (Redis may be down
// at start), then hands the domains to certmagic's ManageAsync, which loads
// the certificates in storage and obtains missing or expiring ones, retried
// with backoff while the CA fails. ManageSync is not used: it orders
// without retries and would hold up (or, with the CA down, fail) the
// start. Until a domain has its certificate, Err says so. Start does
// nothing without ACME domains; ctx (and Close) stop the background work.
func (m *Manager) Start(ctx context.Context) {
	if m.managed == nil || len(m.cfg.ACME.Domains) == 0 {
		return
	}
	ctx, m.stop = context.WithCancel(ctx)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.manage(ctx)
	}()
}

// manage waits for the storage, then starts managing the domains.
func (m *Manager) manage(ctx context.Context) {
	wait := storageRetryMin
	for {
		// Any key will do: "does not exist" proves the storage answers.
		_, err := m.managed.Storage.Stat(ctx, "certificates")
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			break
		}
		m.log.Warn("certs: certificate storage unreachable; retrying", "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, storageRetryMax)
	}
	if err := m.managed.ManageAsync(ctx, m.cfg.ACME.Domains); err != nil {
		m.log.Error("certs: manage", "domains", m.cfg.ACME.Domains, "err", err)
	}
}

// Close stops the work of Start and certificate maintenance (renewals).
func (m *Manager) Close() {
	if m.stop != nil {
		m.stop()
	}
	m.wg.Wait()
	if m.cache != nil {
		m.cache.Stop()
	}
}

// TLSConfig returns the tls.Config of the HTTPS listener: it offers h2
// (unless tls.http2 is false) and http/1.1, and acme-tls/1 for the
// TLS-ALPN-01 challenge when ACME is on.
func (m *Manager) TLSConfig() *tls.Config {
	var protos []string
	if m.cfg.HTTP2 == nil || *m.cfg.HTTP2 {
		protos = append(protos, "h2")
	}
	protos = append(protos, "http/1.1")
	if m.magic != nil {
		protos = append(protos, acmez.ACMETLS1Protocol)
	}
	return &tls.Config{
		GetCertificate: m.getCertificate,
		NextProtos:     protos,
		MinVersion:     tls.VersionTLS12,
	}
}

// getCertificate picks the certificate for a handshake: the TLS-ALPN-01
// challenge certificate when the CA asks for one; else the first static
// certificate valid for the SNI name; else certmagic's (managed, or on
// demand); else the first static certificate.
func (m *Manager) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if m.magic != nil && slices.Contains(hello.SupportedProtos, acmez.ACMETLS1Protocol) {
		return m.magic.GetCertificate(hello)
	}
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name != "" {
		for i := range m.static {
			if m.static[i].Leaf.VerifyHostname(name) == nil {
				return &m.static[i], nil
			}
		}
	}
	if m.magic != nil {
		c, err := m.magic.GetCertificate(hello)
		if err == nil || len(m.static) == 0 {
			return c, err
		}
	}
	if len(m.static) == 0 {
		return nil, errors.New("certs: no certificate")
	}
	return &m.static[0], nil
}

// HTTPHandler wraps the plain listener's handler: ACME HTTP-01 challenges
// are answered first; with tls.redirect_http, every other request is
// redirected to HTTPS, else it goes to next.
func (m *Manager) HTTPHandler(next http.Handler) http.Handler {
	h := next
	if m.cfg.RedirectHTTP {
		h = http.HandlerFunc(m.redirect)
	}
	if m.issuer != nil {
		// The challenge handler must come before the redirect: the CA
		// fetches the token over plain HTTP.
		h = m.issuer.HTTPChallengeHandler(h)
	}
	return h
}

// redirect sends the request to the same host and path on the HTTPS
// listener's port (308 keeps the method and body).
func (m *Manager) redirect(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if _, port, err := net.SplitHostPort(m.cfg.Listen); err == nil && port != "443" && port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
}

// Expiries returns, for every name served, the NotAfter of the certificate
// currently served for it: static certificates by their DNS names, ACME
// ones for the configured domains and the on-demand names approved so far.
func (m *Manager) Expiries() map[string]time.Time {
	out := make(map[string]time.Time)
	for _, c := range m.static {
		names := c.Leaf.DNSNames
		if len(names) == 0 && c.Leaf.Subject.CommonName != "" {
			names = []string{c.Leaf.Subject.CommonName}
		}
		for _, n := range names {
			if _, ok := out[n]; !ok {
				out[n] = c.Leaf.NotAfter
			}
		}
	}
	if m.cache == nil {
		return out
	}
	for _, n := range m.acmeNames() {
		if c, ok := m.newest(n); ok {
			out[n] = c.Leaf.NotAfter
		}
	}
	return out
}

// Err returns nil when every domain of tls.acme.domains has a certificate
// that has not expired, else an error naming the ones that do not (for
// readiness).
func (m *Manager) Err() error {
	if m.cache == nil {
		return nil
	}
	var missing []string
	for _, d := range m.cfg.ACME.Domains {
		if c, ok := m.newest(d); !ok || time.Now().After(c.Leaf.NotAfter) {
			missing = append(missing, d)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("certs: no valid certificate yet for %s", strings.Join(missing, ", "))
	}
	return nil
}

// newest returns the cached certificate for name that expires last.
func (m *Manager) newest(name string) (certmagic.Certificate, bool) {
	var best certmagic.Certificate
	found := false
	for _, c := range m.cache.AllMatchingCertificates(name) {
		if c.Leaf != nil && (!found || c.Leaf.NotAfter.After(best.Leaf.NotAfter)) {
			best, found = c, true
		}
	}
	return best, found
}

// acmeNames returns the configured domains and the approved on-demand names.
func (m *Manager) acmeNames() []string {
	names := slices.Clone(m.cfg.ACME.Domains)
	m.mu.Lock()
	for n := range m.approved {
		names = append(names, n)
	}
	m.mu.Unlock()
	slices.Sort(names)
	return slices.Compact(names)
}
