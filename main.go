// Command cachegate is a caching reverse proxy: it stores the origin's
// responses in memory or Redis under YAML route rules, honours HTTP caching
// (RFC 9111) and offers a purge API.
//
//	cachegate -config FILE            run the proxy
//	cachegate validate -config FILE   check a config, list every problem
//	cachegate demo                    run a demo origin and the proxy before it
//	cachegate version                 print the version
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/certs"
	"github.com/cachegate/cachegate/collapse"
	"github.com/cachegate/cachegate/demo"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/proxy"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/store"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its arguments and outputs, returning the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !isFlag(args[0]) {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("cachegate "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "cachegate.yaml", "the configuration `file`")
	demoListen := fs.String("listen", "127.0.0.1:8080", "demo: the proxy's address")
	demoOrigin := fs.String("origin-listen", "127.0.0.1:9000", "demo: the demo origin's address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "cachegate", buildVersion())
		return 0
	case "validate":
		if _, err := policy.Load(*configPath); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: ok\n", *configPath)
		return 0
	case "demo":
		return runDemo(*demoListen, *demoOrigin, stderr)
	case "serve":
		cfg, err := policy.Load(*configPath)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return serve(cfg, stderr)
	default:
		fmt.Fprintf(stderr, "cachegate: unknown command %q (serve, validate, demo, version)\n", cmd)
		return 2
	}
}

func isFlag(s string) bool { return len(s) > 0 && s[0] == '-' }

// buildVersion is the -ldflags version, else the module's VCS revision.
func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return "dev-" + s.Value
			}
		}
	}
	return version
}

// runDemo serves the demo origin and a proxy before it on the memory store.
func runDemo(listen, originListen string, stderr io.Writer) int {
	ln, err := net.Listen("tcp", originListen)
	if err != nil {
		fmt.Fprintln(stderr, "cachegate demo:", err)
		return 1
	}
	go http.Serve(ln, demo.New())
	cfg, err := policy.Parse("demo.yaml", []byte(fmt.Sprintf(demoConfig, listen, ln.Addr())))
	if err != nil {
		fmt.Fprintln(stderr, "cachegate demo:", err)
		return 1
	}
	fmt.Fprintf(stderr, "cachegate demo: origin on http://%s, proxy on http://%s\n"+
		"  try: curl -si http://%s/time   (twice; watch Age and Cache-Status)\n", ln.Addr(), listen, listen)
	return serve(cfg, stderr)
}

const demoConfig = `
listen: %q
origin: "http://%s"
admin:
  listen: "127.0.0.1:0"
store:
  backend: memory
  memory:
    max_bytes: 64MiB
routes:
  - name: slow
    match: {path: /slow/}
    ttl: 30s
    mode: override
    stale_while_revalidate: 30s
    stale_if_error: 5m
`

// serve runs the proxy and admin listeners until SIGINT or SIGTERM;
// SIGHUP reloads the config file.
func serve(cfg *policy.Config, stderr io.Writer) int {
	log := newLogger(cfg.Log, stderr)
	// go-redis logs every failed dial; while Redis is down that is one line
	// per request. Errors that matter are logged with context by cachegate.
	redis.SetLogger(redisLogger{log})
	st, err := openStore(cfg)
	if err != nil {
		log.Error("store", "err", err)
		return 1
	}
	defer st.Close()
	purger := openPurger(st, log)
	defer purger.Close()
	var current atomic.Pointer[policy.Config]
	current.Store(cfg)
	api := &purge.API{Purger: purger, Config: current.Load, Log: log}
	group := openCollapse(st, cfg.Cache.Collapse, log)
	defer group.Close()
	p, err := proxy.New(cfg, proxy.Options{Store: st, Purger: purger, Collapse: group, Logger: log, PURGE: api.ServePURGE})
	if err != nil {
		log.Error("proxy", "err", err)
		return 1
	}
	defer p.Close()
	proxyLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Error("listen", "addr", cfg.Listen, "err", err)
		return 1
	}
	servers := []*http.Server{newServer(p, log)}
	listeners := []net.Listener{proxyLn}
	if cfg.TLS.Listen != "" {
		mgr, tlsSrv, tlsLn, err := openHTTPS(cfg, st, proxyLn, p, log)
		if err != nil {
			log.Error("https", "err", err)
			return 1
		}
		defer mgr.Close()
		mgr.Start(context.Background())
		servers[0].Handler = mgr.HTTPHandler(p)
		servers = append(servers, tlsSrv)
		listeners = append(listeners, tlsLn)
		log.Info("https listening", "addr", tlsLn.Addr().String())
	}
	if cfg.Admin.Listen != "" {
		adminLn, err := net.Listen("tcp", cfg.Admin.Listen)
		if err != nil {
			log.Error("listen", "addr", cfg.Admin.Listen, "err", err)
			return 1
		}
		servers = append(servers, newServer(adminMux(st, api), log))
		listeners = append(listeners, adminLn)
		log.Info("admin listening", "addr", adminLn.Addr().String())
	}
	log.Info("cachegate listening", "addr", proxyLn.Addr().String(), "origin", cfg.Origin,
		"store", cfg.Store.Backend, "version", buildVersion())

	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() {
			if srv.TLSConfig != nil {
				// ServeTLS, unlike Serve on a tls.Listener, sets up HTTP/2.
				errc <- srv.ServeTLS(listeners[i], "", "")
				return
			}
			errc <- srv.Serve(listeners[i])
		}()
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	for {
		select {
		case err := <-errc:
			log.Error("serve", "err", err)
			return 1
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				if next := reload(cfg.File, p, log); next != nil {
					current.Store(next)
				}
				continue
			}
			log.Info("shutting down", "signal", sig.String())
			ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout.D())
			defer cancel()
			for _, srv := range servers {
				if err := srv.Shutdown(ctx); err != nil {
					log.Error("shutdown", "err", err)
				}
			}
			return 0
		}
	}
}

// reload reads the config file again and swaps it in if it is valid,
// returning it, or nil when the old config stays.
func reload(path string, p *proxy.Proxy, log *slog.Logger) *policy.Config {
	cfg, err := policy.Load(path)
	if err != nil {
		log.Error("reload refused; the old config stays", "err", err)
		return nil
	}
	if err := p.Reload(cfg); err != nil {
		log.Error("reload refused; the old config stays", "err", err)
		return nil
	}
	log.Info("config reloaded", "file", path)
	return cfg
}

func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// openHTTPS listens on tls.listen and returns the certificate manager and
// the HTTPS server of the proxy handler h. Certificates are kept in Redis
// when the store is, so that the instances share them; the plain and HTTPS
// listeners answer the ACME challenges.
func openHTTPS(cfg *policy.Config, st store.Store, plain net.Listener, h http.Handler, log *slog.Logger) (*certs.Manager, *http.Server, net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.TLS.Listen)
	if err != nil {
		return nil, nil, nil, err
	}
	opts := certs.Options{
		Log:         log,
		HTTPPort:    plain.Addr().(*net.TCPAddr).Port,
		TLSALPNPort: ln.Addr().(*net.TCPAddr).Port,
	}
	if rs, ok := st.(*store.Redis); ok {
		opts.Redis, opts.Prefix = rs.Client(), rs.Prefix()
	}
	mgr, err := certs.New(cfg.TLS, opts)
	if err != nil {
		ln.Close()
		return nil, nil, nil, err
	}
	srv := newServer(h, log)
	srv.TLSConfig = mgr.TLSConfig()
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(cfg.TLS.HTTP2 == nil || *cfg.TLS.HTTP2)
	return mgr, srv, ln, nil
}

// openStore opens the configured store backend.
func openStore(cfg *policy.Config) (store.Store, error) {
	switch cfg.Store.Backend {
	case "redis":
		return store.NewRedis(cfg.Store.Redis)
	case "memory":
		return store.NewMemory(int64(cfg.Store.Memory.MaxBytes)), nil
	default:
		return nil, fmt.Errorf("store.backend %q is not available in this version", cfg.Store.Backend)
	}
}

// newLogger builds the slog logger the config asks for.
func newLogger(lc policy.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(lc.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if lc.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// redisLogger sends go-redis's own messages to the log at debug.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.Debug("redis: " + fmt.Sprintf(format, v...))
}

// openPurger returns the purger that fits the store: purges shared
// through Redis when the entries are, in process otherwise.
func openPurger(st store.Store, log *slog.Logger) purge.Purger {
	if rs, ok := st.(*store.Redis); ok {
		return purge.NewRedis(rs.Client(), rs.Prefix(), log)
	}
	return purge.NewLocal()
}

// openCollapse returns the collapsing group: across the instances sharing
// the Redis store, or in process.
func openCollapse(st store.Store, cc policy.CollapseConfig, log *slog.Logger) *collapse.Group {
	opts := collapse.Options{Wait: cc.Wait.D(), HitForPass: cc.HitForPass.D()}
	if rs, ok := st.(*store.Redis); ok {
		return collapse.New(rs.Client(), rs.Prefix(), opts, log)
	}
	return collapse.New(nil, "", opts, log)
}

// pinger is a store that can tell whether its backend answers.
type pinger interface {
	Ping(ctx context.Context) error
}

// adminMux serves the admin listener: purges, health and readiness.
func adminMux(st store.Store, api *purge.API) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /purge", api.ServePurge)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if pg, ok := st.(pinger); ok {
			ctx, cancel := context.WithTimeout(r.Context(), time.Second)
			defer cancel()
			if err := pg.Ping(ctx); err != nil {
				// Still serving: requests go to the origin.
				fmt.Fprintf(w, "degraded: store unreachable: %v\n", err)
				return
			}
		}
		io.WriteString(w, "ready\n")
	})
	return mux
}
