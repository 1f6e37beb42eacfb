package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/metrics"
)

// ErrDown is returned by Pool.RoundTrip when every upstream of the
// backend, backups included, is down: nothing was sent.
var ErrDown = errors.New("upstream: every upstream of the backend is down")

// Options are the parts of a Set that do not come from the config file.
type Options struct {
	// Transport, when set, reaches every upstream instead of the
	// backends' own transports (tests).
	Transport http.RoundTripper
	// Metrics records requests, health and probes per upstream.
	Metrics *metrics.Metrics
	// Logger receives health changes. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock of passive marking. Default time.Now.
	Now func() time.Time
}

// Set is the backends of one config: the top-level origin's and every
// configured one. Start starts its probes, Close stops them.
type Set struct {
	pools map[string]*Pool
	order []*Pool
	opts  Options
	stop  context.CancelFunc
	wg    sync.WaitGroup
}

// Pool is one backend: its upstreams, how one is picked and what is sent.
type Pool struct {
	// Name is the backend's name ("origin" for the top-level origin).
	Name string
	// HostHeader is the Host sent upstream; empty keeps the client's.
	HostHeader string
	// PathPrefix is put before every request's path.
	PathPrefix string

	primaries, backups []*Upstream
	balance            balancer
	failStatuses       []int
	probe              config.Probe
	transport          *http.Transport // nil when Options.Transport is used
	set                *Set
}

// Upstream is one server of a backend.
type Upstream struct {
	// URL is the server's scheme and host.
	URL *url.URL
	// Label is the upstream's host:port, as in metrics and /debug/entry.
	Label  string
	Weight int
	Backup bool

	transport http.RoundTripper
	health    *health
	inflight  atomic.Int64
	// reported is the health last logged and exported (observe).
	reported atomic.Bool
}

// InFlight is the number of requests sent to u whose response body is
// not closed yet.
func (u *Upstream) InFlight() int64 { return u.inflight.Load() }

// New builds the backends of cfg: transports, balancers and health. Its
// probes run from Start.
func New(cfg *config.Config, opts Options) (*Set, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Set{pools: map[string]*Pool{}, opts: opts}
	for _, b := range cfg.AllBackends() {
		p, err := s.newPool(b)
		if err != nil {
			return nil, err
		}
		s.pools[b.Name] = p
		s.order = append(s.order, p)
	}
	return s, nil
}

// newPool builds backend b.
func (s *Set) newPool(b *config.Backend) (*Pool, error) {
	p := &Pool{Name: b.Name, HostHeader: b.HostHeader, PathPrefix: b.PathPrefix, balance: newBalancer(b.Balance),
		failStatuses: b.Passive.FailStatuses, probe: b.Probe, set: s}
	transport := s.opts.Transport
	if transport == nil {
		t, err := NewTransport(b)
		if err != nil {
			return nil, err
		}
		p.transport, transport = t, t
	}
	for _, uc := range b.Upstreams {
		parsed, err := url.Parse(uc.URL)
		if err != nil {
			return nil, fmt.Errorf("upstream: backend %s: %q: %w", b.Name, uc.URL, err)
		}
		u := &Upstream{URL: parsed, Label: hostPort(parsed), Weight: uc.Weight, Backup: uc.Backup, transport: transport,
			health: newHealth(b.Passive, b.Probe, len(b.Upstreams) > 1)}
		u.reported.Store(true)
		if u.Backup {
			p.backups = append(p.backups, u)
		} else {
			p.primaries = append(p.primaries, u)
		}
	}
	return p, nil
}

// hostPort is u's host with its port, the scheme's default when u has
// none.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// Pool returns the backend named name ("" is the origin's), or nil.
func (s *Set) Pool(name string) *Pool {
	if name == "" {
		name = config.OriginBackend
	}
	return s.pools[name]
}

// Start carries the health of prev's upstreams (the backends before a
// reload; nil at start) over to the same upstreams of s, starts the
// probes, which run until Close, and closes prev (retire).
func (s *Set) Start(prev *Set) {
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	for _, p := range s.order {
		for _, u := range p.all() {
			if old := prev.find(p.Name, u); old != nil {
				u.health.carry(old.health)
			}
			up := u.health.up(s.opts.Now())
			u.reported.Store(up)
			s.opts.Metrics.UpstreamHealthy(p.Name, u.Label, up)
			if p.probe.Path != "" {
				s.wg.Add(1)
				go func() {
					defer s.wg.Done()
					p.probeLoop(ctx, u)
				}()
			}
		}
	}
	if prev != nil {
		prev.retire(s)
	}
}

// Close stops the probes and closes the idle connections; requests in
// flight finish.
func (s *Set) Close() { s.retire(nil) }

// retire stops s's probes, closes its idle connections (requests in
// flight finish) and removes the health series of its upstreams that
// next, the backends replacing it, does not have.
func (s *Set) retire(next *Set) {
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
	for _, p := range s.order {
		if p.transport != nil {
			p.transport.CloseIdleConnections()
		}
		for _, u := range p.all() {
			if next.find(p.Name, u) == nil {
				s.opts.Metrics.UpstreamGone(p.Name, u.Label)
			}
		}
	}
}

// find returns the upstream of s's backend named backend with u's label
// and scheme, or nil (also when s is nil).
func (s *Set) find(backend string, u *Upstream) *Upstream {
	if s == nil {
		return nil
	}
	return s.Pool(backend).find(u.Label, u.URL.Scheme)
}

// Status is a backend's health as /readyz shows it.
type Status struct {
	Backend        string
	Healthy, Total int
}

// Status returns the health of every backend, the origin's first.
func (s *Set) Status() []Status {
	now := s.opts.Now()
	var all []Status
	for _, p := range s.order {
		st := Status{Backend: p.Name}
		for _, u := range p.all() {
			st.Total++
			if p.observe(u, now) {
				st.Healthy++
			}
		}
		all = append(all, st)
	}
	return all
}

// all returns the primaries, then the backups.
func (p *Pool) all() []*Upstream {
	return append(slices.Clip(p.primaries), p.backups...)
}

// find returns the upstream of p with label and scheme, or nil (also
// when p is nil).
func (p *Pool) find(label, scheme string) *Upstream {
	if p == nil {
		return nil
	}
	for _, u := range p.all() {
		if u.Label == label && u.URL.Scheme == scheme {
			return u
		}
	}
	return nil
}

// Pick returns the upstream a request with key goes to: one of the
// healthy primaries, chosen by the backend's balance, or, while every
// primary is down, one of the healthy backups; never exclude. It returns
// nil when none is healthy.
func (p *Pool) Pick(key string, exclude *Upstream) *Upstream {
	now := p.set.opts.Now()
	for _, group := range [][]*Upstream{p.primaries, p.backups} {
		candidates := make([]*Upstream, 0, len(group))
		for _, u := range group {
			if u != exclude && p.observe(u, now) {
				candidates = append(candidates, u)
			}
		}
		if len(candidates) > 0 {
			return p.balance.pick(candidates, key)
		}
	}
	return nil
}

// observe reports whether u is up at now, and logs and exports a change
// since it was last observed (a cool-down that ended, a probe verdict).
func (p *Pool) observe(u *Upstream, now time.Time) bool {
	up := u.health.up(now)
	if u.reported.Swap(up) != up {
		p.set.opts.Metrics.UpstreamHealthy(p.Name, u.Label, up)
		if up {
			p.set.opts.Logger.Info("upstream healthy again", "backend", p.Name, "upstream", u.Label)
		} else {
			p.set.opts.Logger.Warn("upstream down", "backend", p.Name, "upstream", u.Label)
		}
	}
	return up
}

// RoundTrip sends r, a request to the backend made by the proxy's
// rewrite, to the upstream picked for key, and returns its response and
// that upstream. A request whose connection failed before anything was
// sent goes once to another upstream when it is idempotent. Every
// response and failure counts for the upstream's health. It returns
// ErrDown, and no upstream, when none is up.
func (p *Pool) RoundTrip(r *http.Request, key string) (*http.Response, *Upstream, error) {
	u := p.Pick(key, nil)
	if u == nil {
		return nil, nil, ErrDown
	}
	resp, err := p.send(r, u)
	if err != nil && retryable(r, err) {
		if next := p.Pick(key, u); next != nil {
			u = next
			resp, err = p.send(r, u)
		}
	}
	return resp, u, err
}

// send sends r to u.
func (p *Pool) send(r *http.Request, u *Upstream) (*http.Response, error) {
	out := *r
	target := *r.URL
	target.Scheme, target.Host = u.URL.Scheme, u.URL.Host
	out.URL = &target
	now := p.set.opts.Now
	u.inflight.Add(1)
	start := now()
	resp, err := u.transport.RoundTrip(&out)
	end := now()
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	failed := err != nil && r.Context().Err() == nil || slices.Contains(p.failStatuses, status)
	p.set.opts.Metrics.UpstreamRequest(p.Name, u.Label, status, failed, end.Sub(start))
	if failed && u.health.failed(end) {
		p.observe(u, end)
	}
	if err != nil {
		u.inflight.Add(-1)
		return nil, err
	}
	resp.Body = &inflightBody{ReadCloser: resp.Body, u: u}
	return resp, nil
}

// retryable reports whether r, which failed with err, may go to another
// upstream: nothing was sent (the connection was never made) and r is
// idempotent (RFC 9110 §9.2.2) without a body, which the failed attempt
// closed.
func retryable(r *http.Request, err error) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return false
	}
	if r.Body != nil && r.Body != http.NoBody {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// inflightBody counts its request in flight until it is closed.
type inflightBody struct {
	io.ReadCloser
	u    *Upstream
	once sync.Once
}

func (b *inflightBody) Close() error {
	b.once.Do(func() { b.u.inflight.Add(-1) })
	return b.ReadCloser.Close()
}
