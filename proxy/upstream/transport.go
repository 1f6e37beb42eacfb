package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/cachegate/cachegate/config"
)

// NewTransport returns the transport of backend b's upstreams: its
// timeouts, keep-alive pool and TLS. It never adds or removes a
// Content-Encoding by itself (DisableCompression), so stored bodies stay
// exactly as the upstream sent them.
func NewTransport(b *config.Backend) (*http.Transport, error) {
	tlsConfig, err := clientTLS(b.TLS)
	if err != nil {
		return nil, fmt.Errorf("upstream: backend %s: %w", b.Name, err)
	}
	t := b.Timeouts
	return &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   t.Connect.D(),
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   t.Connect.D(),
		DisableCompression:    true,
		MaxIdleConns:          max(1024, b.MaxIdleConns),
		MaxIdleConnsPerHost:   b.MaxIdleConns,
		IdleConnTimeout:       t.Idle.D(),
		ResponseHeaderTimeout: t.ResponseHeader.D(),
		ExpectContinueTimeout: time.Second,
	}, nil
}

// clientTLS is the TLS configuration to a backend's https upstreams, or
// nil (Go's defaults) when nothing is configured.
func clientTLS(c config.UpstreamTLS) (*tls.Config, error) {
	if c == (config.UpstreamTLS{}) {
		return nil, nil
	}
	tc := &tls.Config{ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file: no PEM certificate in %s", c.CAFile)
		}
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
