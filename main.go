// Command cachegate is a caching reverse proxy: it stores the origin's
// responses in memory or Redis under YAML route rules, honours HTTP caching
// (RFC 9111) and offers a purge API.
//
//	cachegate -config FILE            run the proxy
//	cachegate validate -config FILE   check a config, list every problem
//	cachegate purge [flags]           purge through the admin API (-tag, -url, -prefix, -host, -route, -all, -soft)
//	cachegate demo                    run a demo origin and the proxy before it
//	cachegate version                 print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/certs"
	"github.com/cachegate/cachegate/collapse"
	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/demo"
	"github.com/cachegate/cachegate/metrics"
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
	if cmd == "purge" {
		return runPurge(args, stdout, stderr)
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "cachegate", buildVersion())
		return 0
	case "validate":
		if _, err := config.Load(*configPath); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: ok\n", *configPath)
		return 0
	case "demo":
		return runDemo(*demoListen, *demoOrigin, stderr)
	case "serve":
		cfg, err := config.Load(*configPath)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return serve(cfg, stderr)
	default:
		fmt.Fprintf(stderr, "cachegate: unknown command %q (serve, validate, purge, demo, version)\n", cmd)
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
	cfg, err := config.Parse("demo.yaml", []byte(fmt.Sprintf(demoConfig, listen, ln.Addr())))
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
func serve(cfg *config.Config, stderr io.Writer) int {
	log, logs := newLogger(cfg.Log, stderr)
	// go-redis logs every failed dial; while Redis is down that is one line
	// per request. Errors that matter are logged with context by cachegate.
	redis.SetLogger(redisLogger{log})
	m := metrics.New(buildVersion())
	var purger purge.Purger
	be, err := openStore(cfg, log, m, func() bool { return purger.(*purge.Redis).Trusted() })
	if err != nil {
		log.Error("store", "err", err)
		return 1
	}
	st := be.store
	defer st.Close()
	purger = openPurger(be.redis, log)
	defer purger.Close()
	if rp, ok := purger.(*purge.Redis); ok {
		m.InvalidationsFunc(func() (int, uint64) { n, refused, _ := rp.Pending(); return n, refused })
	}
	if t, ok := st.(*store.Tiered); ok {
		t.Current = func(e *store.Entry) bool { return purger.Check(context.Background(), e) == purge.Valid }
	}
	if be.memory != nil {
		m.StoredFunc(func() (int64, int64) { return int64(be.memory.Len()), be.memory.Bytes() })
	}
	rules, err := policy.Compile(cfg)
	if err != nil {
		log.Error("config", "err", err)
		return 1
	}
	var current atomic.Pointer[policy.Rules]
	current.Store(rules)
	api := &purge.API{Purger: purger, Config: current.Load, Log: log, OnPurge: m.Purge}
	group := openCollapse(be.redis, cfg.Cache.Collapse, log)
	defer group.Close()
	p, err := proxy.New(rules, proxy.Options{
		Store: metrics.InstrumentStore(st, cfg.Store.Backend, m), Purger: purger, Collapse: group,
		Metrics: m, Logger: log, PURGE: api.ServePURGE,
	})
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
	servers := []*http.Server{newServer(p, log, cfg.ClientLimits)}
	listeners := []net.Listener{proxyLn}
	var mgr *certs.Manager
	if cfg.TLS.Listen != "" {
		var tlsSrv *http.Server
		var tlsLn net.Listener
		mgr, tlsSrv, tlsLn, err = openHTTPS(cfg, be.redis, proxyLn, p, log)
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
		servers = append(servers, newServer(adminMux(admin{
			backend: be, purger: purger, api: api, config: current.Load,
			reload:  func() ([]string, error) { return reloadConfig(cfg.File, cfg, p, &current, logs, log, m) },
			metrics: certMetrics(mgr, m),
			inspect: p.ServeInspect,
			certs:   mgr,
		}), log, cfg.ClientLimits))
		listeners = append(listeners, adminLn)
		log.Info("admin listening", "addr", adminLn.Addr().String())
	}
	log.Info("cachegate listening", "addr", proxyLn.Addr().String(), "origin", cfg.Origin,
		"store", cfg.Store.Backend, "version", buildVersion())

	warmCtx, stopWarm := context.WithCancel(context.Background())
	defer stopWarm()
	go p.Warm(warmCtx, m.Warm)

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
				reloadConfig(cfg.File, cfg, p, &current, logs, log, m)
				continue
			}
			log.Info("shutting down", "signal", sig.String())
			ctx, cancel := context.WithTimeout(context.Background(), current.Load().ShutdownTimeout.D())
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

// openHTTPS listens on tls.listen and returns the certificate manager and
// the HTTPS server of the proxy handler h. Certificates are kept in Redis
// when the store is, so that the instances share them; the plain and HTTPS
// listeners answer the ACME challenges.
func openHTTPS(cfg *config.Config, rs *store.Redis, plain net.Listener, h http.Handler, log *slog.Logger) (*certs.Manager, *http.Server, net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.TLS.Listen)
	if err != nil {
		return nil, nil, nil, err
	}
	opts := certs.Options{
		Log:         log,
		HTTPPort:    plain.Addr().(*net.TCPAddr).Port,
		TLSALPNPort: ln.Addr().(*net.TCPAddr).Port,
	}
	if rs != nil {
		opts.Redis, opts.Prefix = rs.Client(), rs.Prefix()
	}
	mgr, err := certs.New(cfg.TLS, opts)
	if err != nil {
		ln.Close()
		return nil, nil, nil, err
	}
	srv := newServer(h, log, cfg.ClientLimits)
	srv.TLSConfig = mgr.TLSConfig()
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(cfg.TLS.HTTP2 == nil || *cfg.TLS.HTTP2)
	return mgr, srv, ln, nil
}

// backend is the opened store and the parts of it that other pieces use.
type backend struct {
	// store is what the proxy reads and writes.
	store store.Store
	// redis is the Redis store (backends redis and tiered), else nil: its
	// client also carries purges and collapsing.
	redis *store.Redis
	// breaker guards redis, memory is the in-process store (or L1).
	breaker *store.Breaker
	memory  *store.Memory
}

// openStore opens the configured store backend: memory; redis behind a
// circuit breaker; or tiered, a memory L1 over that, trusted while the
// purge marks are current (trusted is called only once the purger
// exists).
func openStore(cfg *config.Config, log *slog.Logger, m *metrics.Metrics, trusted func() bool) (backend, error) {
	var b backend
	if cfg.Store.Backend == "memory" {
		b.memory = store.NewMemory(int64(cfg.Store.Memory.MaxBytes))
		b.store = b.memory
		return b, nil
	}
	rs, err := store.NewRedis(cfg.Store.Redis)
	if err != nil {
		return b, err
	}
	if err := checkRedis(rs, cfg.Store.Redis, log); err != nil {
		rs.Close()
		return b, err
	}
	b.redis = rs
	m.BreakerState(store.StateClosed)
	b.breaker = store.NewBreaker(rs, store.BreakerOptions{OnStateChange: m.BreakerState}, log)
	b.store = b.breaker
	if cfg.Store.Backend == "tiered" {
		b.memory = store.NewMemory(int64(cfg.Store.Memory.MaxBytes))
		t := store.NewTiered(b.memory, b.breaker, trusted)
		t.Unreachable, t.L1WhenRedisDown = b.breaker.Unreachable, cfg.Store.Tiered.L1WhenRedisDown.D()
		b.store = t
	}
	return b, nil
}

// redisStartCheck bounds the start's check of Redis: a few dial and read
// timeouts.
const redisStartCheck = 3 * time.Second

// checkRedis stops the start when Redis refuses the configuration (a wrong
// password, an ACL that denies, no such database): waiting would not help.
// A Redis that does not answer is only logged: the instance serves from the
// origin and uses Redis when it comes.
func checkRedis(rs *store.Redis, rc config.RedisConfig, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), redisStartCheck)
	defer cancel()
	err := rs.Check(ctx, rc)
	var ce *store.RedisConfigError
	if errors.As(err, &ce) {
		return err
	}
	if err != nil {
		log.Warn("Redis does not answer at start; requests go to the origin until it does", "err", err)
	}
	return nil
}

// redisLogger sends go-redis's own messages to the log at debug.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.Debug("redis: " + fmt.Sprintf(format, v...))
}

// openPurger returns the purger that fits the store: purges shared
// through Redis when the entries are, in process otherwise.
func openPurger(rs *store.Redis, log *slog.Logger) purge.Purger {
	if rs != nil {
		return purge.NewRedis(rs.Client(), rs.Prefix(), log)
	}
	return purge.NewLocal()
}

// openCollapse returns the collapsing group: across the instances sharing
// the Redis store, or in process.
func openCollapse(rs *store.Redis, cc config.CollapseConfig, log *slog.Logger) *collapse.Group {
	opts := collapse.Options{Wait: cc.Wait.D(), HitForPass: cc.HitForPass.D()}
	if rs != nil {
		return collapse.New(rs.Client(), rs.Prefix(), opts, log)
	}
	return collapse.New(nil, "", opts, log)
}

// admin is what the admin listener serves.
type admin struct {
	backend backend
	purger  purge.Purger
	api     *purge.API
	config  func() *policy.Rules
	reload  func() (restartNeeded []string, err error)
	inspect http.HandlerFunc
	metrics http.Handler
	certs   *certs.Manager // nil without tls.listen
}

// adminMux serves the admin listener: purges, webhooks, reload, entry
// inspection, health and readiness.
func adminMux(a admin) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /purge", a.api.ServePurge)
	mux.HandleFunc("POST /webhooks/{name}", a.api.ServeWebhook)
	mux.HandleFunc("POST /reload", purge.RequireToken(a.config, func(w http.ResponseWriter, r *http.Request) {
		restart, err := a.reload()
		if err != nil {
			http.Error(w, "reload refused; the old config stays:\n"+err.Error()+"\n", http.StatusUnprocessableEntity)
			return
		}
		if len(restart) > 0 {
			io.WriteString(w, "reloaded; these options take effect at the next start: "+strings.Join(restart, ", ")+"\n")
			return
		}
		io.WriteString(w, "reloaded\n")
	}))
	mux.HandleFunc("GET /debug/entry", purge.RequireToken(a.config, a.inspect))
	mux.Handle("GET /metrics", a.metrics)
	// Profiles for finding where time goes (token required).
	mux.HandleFunc("GET /debug/pprof/", purge.RequireToken(a.config, pprof.Index))
	mux.HandleFunc("GET /debug/pprof/profile", purge.RequireToken(a.config, pprof.Profile))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		reason := degraded(r.Context(), a.backend, a.purger)
		if a.certs != nil {
			if err := a.certs.Err(); err != nil {
				reason = strings.TrimPrefix(reason+"; ", "; ") + "certificates: " + err.Error()
			}
		}
		if reason != "" {
			// Still serving: requests go to the origin.
			fmt.Fprintf(w, "degraded: %s\n", reason)
			return
		}
		io.WriteString(w, "ready\n")
	})
	return mux
}

// certMetrics serves /metrics with the expiry of every certificate the
// manager serves brought up to date first.
func certMetrics(mgr *certs.Manager, m *metrics.Metrics) http.Handler {
	h := m.Handler()
	if mgr == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for name, t := range mgr.Expiries() {
			m.CertExpiry(name, t)
		}
		h.ServeHTTP(w, r)
	})
}

// degraded says why the instance serves in a degraded way, or "".
func degraded(ctx context.Context, be backend, purger purge.Purger) string {
	if be.redis != nil {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := be.redis.Ping(ctx); err != nil {
			return "Redis unreachable, requests go to the origin (store circuit " + be.breaker.State() + "): " + err.Error()
		}
	}
	if rp, ok := purger.(*purge.Redis); ok {
		return rp.Degraded()
	}
	return ""
}
