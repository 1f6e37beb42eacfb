package certs

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// askTimeout bounds one question to tls.acme.ask.
const askTimeout = 5 * time.Second

// ask is the on-demand decision: it GETs tls.acme.ask?domain=NAME and
// approves the name only on a 2xx answer, so that no handshake can make
// the proxy order a certificate for a name the operator did not approve.
// The names of tls.acme.domains are approved by the config itself.
func (m *Manager) ask(ctx context.Context, name string) error {
	if slices.Contains(m.cfg.ACME.Domains, name) {
		return nil
	}
	u, err := url.Parse(m.cfg.ACME.Ask)
	if err != nil {
		return fmt.Errorf("certs: ask: %w", err)
	}
	q := u.Query()
	q.Set("domain", name)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("certs: ask: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("certs: ask about %s: %w", name, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("certs: ask about %s: %s refused it with %s", name, m.cfg.ACME.Ask, resp.Status)
	}
	m.mu.Lock()
	m.approved[name] = true
	m.mu.Unlock()
	return nil
}
