package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cachegate/cachegate/certs"
	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/proxy"
	"github.com/cachegate/cachegate/store"
)

// listeners are the servers of an instance (the proxy's, the HTTPS one,
// the admin listener), each on its listener, served together until a
// signal ends them.
type listeners struct {
	log     *slog.Logger
	limits  config.ClientLimits
	hitLane bool
	servers []*http.Server
	lns     []net.Listener
	// lanes are the hit lanes, shut down before the servers they hand
	// connections to.
	lanes []*proxy.HitLane
}

// listen listens on addr and adds a server of h there.
func (ls *listeners) listen(addr string, h http.Handler) (*http.Server, net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return ls.add(ln, h), ln, nil
}

// listenProxy is listen for the proxy's plain listener, a
// proxy.WireListener (a hit's header and body leave in one write): with
// hit_lane on, its connections are served by p's hit lane until a request
// is not a hit, then by net/http.
func (ls *listeners) listenProxy(addr string, p *proxy.Proxy) (*http.Server, net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	wire := proxy.WireListener(ln)
	if !ls.hitLane {
		srv := ls.add(wire, p)
		srv.ConnContext = proxy.ConnContext
		return srv, ln, nil
	}
	srv := newServer(p, ls.log, ls.limits)
	srv.ConnContext = proxy.ConnContext
	lane := proxy.NewHitLane(p, wire, srv)
	ls.servers, ls.lns = append(ls.servers, srv), append(ls.lns, lane.Listener())
	ls.lanes = append(ls.lanes, lane)
	return srv, ln, nil
}

// add adds a server of h on ln.
func (ls *listeners) add(ln net.Listener, h http.Handler) *http.Server {
	srv := newServer(h, ls.log, ls.limits)
	ls.servers, ls.lns = append(ls.servers, srv), append(ls.lns, ln)
	return srv
}

// newServer is an http.Server for h under the client_limits of cfg (the
// body limits are applied by the proxy, see proxy.admit).
func newServer(h http.Handler, log *slog.Logger, limits config.ClientLimits) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: limits.ReadHeaderTimeout.D(),
		MaxHeaderBytes:    int(limits.MaxHeaderBytes),
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// listenHTTPS listens on tls.listen and adds the HTTPS server of the proxy
// handler h; it returns the certificate manager, started. Certificates are
// kept in Redis when the store is (rs), so that the instances share them;
// the plain server (on plainLn) and the HTTPS one answer the ACME
// challenges.
func (ls *listeners) listenHTTPS(cfg *config.Config, rs *store.Redis, plain *http.Server, plainLn net.Listener, h http.Handler) (*certs.Manager, error) {
	ln, err := net.Listen("tcp", cfg.TLS.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.TLS.Listen, err)
	}
	opts := certs.Options{
		Log:         ls.log,
		HTTPPort:    plainLn.Addr().(*net.TCPAddr).Port,
		TLSALPNPort: ln.Addr().(*net.TCPAddr).Port,
	}
	if rs != nil {
		opts.Redis, opts.Prefix = rs.Client(), rs.Prefix()
	}
	mgr, err := certs.New(cfg.TLS, opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	srv := ls.add(ln, h)
	srv.TLSConfig = mgr.TLSConfig()
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(cfg.TLS.HTTP2 == nil || *cfg.TLS.HTTP2)
	mgr.Start(context.Background())
	plain.Handler = mgr.HTTPHandler(h)
	ls.log.Info("https listening", "addr", ln.Addr().String())
	return mgr, nil
}

// serve serves every listener until SIGINT or SIGTERM, which shut the
// servers down (requests in flight finish within shutdownTimeout), or
// until one fails; SIGHUP calls reload. signals is where the process's
// SIGHUP, SIGINT and SIGTERM arrive (serveSignals). It returns the exit
// code.
func (ls *listeners) serve(signals <-chan os.Signal, reload func(), shutdownTimeout func() time.Duration) int {
	errc := make(chan error, len(ls.servers))
	for i, srv := range ls.servers {
		go func() {
			if srv.TLSConfig != nil {
				// ServeTLS, unlike Serve on a tls.Listener, sets up HTTP/2.
				errc <- srv.ServeTLS(ls.lns[i], "", "")
				return
			}
			errc <- srv.Serve(ls.lns[i])
		}()
	}
	for {
		select {
		case err := <-errc:
			ls.log.Error("serve", "err", err)
			return 1
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				reload()
				continue
			}
			ls.log.Info("shutting down", "signal", sig.String())
			ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout())
			defer cancel()
			for _, lane := range ls.lanes {
				if err := lane.Shutdown(ctx); err != nil {
					ls.log.Error("shutdown", "err", err)
				}
			}
			for _, srv := range ls.servers {
				if err := srv.Shutdown(ctx); err != nil {
					ls.log.Error("shutdown", "err", err)
				}
			}
			return 0
		}
	}
}

// serveSignals routes SIGHUP, SIGINT and SIGTERM to a channel from now on,
// so that none sent while the server starts takes its default action
// (SIGHUP would end the process): a SIGHUP that arrives before the
// listeners serve is a reload done as soon as they do. stop ends it.
func serveSignals() (signals <-chan os.Signal, stop func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	return c, func() { signal.Stop(c) }
}
