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
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cachegate/cachegate/admin"
	"github.com/cachegate/cachegate/certs"
	"github.com/cachegate/cachegate/internal/lograte"
	"github.com/cachegate/cachegate/metrics"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/proxy"
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

// serve runs the proxy and admin listeners until SIGINT or SIGTERM;
// SIGHUP reloads the config file.
func serve(cfg *policy.Config, stderr io.Writer) int {
	log := newLogger(cfg.Log, stderr)
	store.LogRedisAtDebug(log)
	m := metrics.New(buildVersion())
	be, err := openBackend(cfg, log, m)
	if err != nil {
		log.Error("store", "err", err)
		return 1
	}
	defer be.Close()
	var current atomic.Pointer[policy.Config]
	current.Store(cfg)
	purges := &admin.Purges{Purger: be.purger, Config: current.Load, Log: log, OnPurge: m.Purge}
	p, err := proxy.New(cfg, proxy.Options{
		Store: metrics.InstrumentStore(be.store, cfg.Store.Backend, m), Purger: be.purger, Collapse: be.collapse,
		Metrics: m, Logger: log, PURGE: purges.ServePURGE,
	})
	if err != nil {
		log.Error("proxy", "err", err)
		return 1
	}
	defer p.Close()
	reload := func() ([]string, error) { return nil, reloadConfig(cfg.File, p, &current, log, m) }
	ls := &listeners{log: log, limits: cfg.ClientLimits}
	plain, proxyLn, err := ls.listen(cfg.Listen, p)
	if err != nil {
		log.Error("proxy", "err", err)
		return 1
	}
	var mgr *certs.Manager
	if cfg.TLS.Listen != "" {
		if mgr, err = ls.listenHTTPS(cfg, be.redis, plain, proxyLn, p); err != nil {
			log.Error("https", "err", err)
			return 1
		}
		defer mgr.Close()
	}
	if cfg.Admin.Listen != "" {
		_, adminLn, err := ls.listen(cfg.Admin.Listen, admin.New(admin.Options{
			Config: current.Load, Purges: purges, Reload: reload, Entries: p,
			Ready:   admin.Readiness{Redis: be.redis, Breaker: be.breaker, Marks: be.marks},
			Metrics: m, Certs: mgr,
		}))
		if err != nil {
			log.Error("admin", "err", err)
			return 1
		}
		log.Info("admin listening", "addr", adminLn.Addr().String())
	}
	log.Info("cachegate listening", "addr", proxyLn.Addr().String(), "origin", cfg.Origin,
		"store", cfg.Store.Backend, "version", buildVersion())
	warmCtx, stopWarm := context.WithCancel(context.Background())
	defer stopWarm()
	go p.Warm(warmCtx, m.Warm)
	return ls.serve(func() { reload() }, cfg.ShutdownTimeout.D())
}

// reloadMu serializes reloads (SIGHUP and POST /reload).
var reloadMu sync.Mutex

// reloadConfig reads the config file again and, if it is valid, swaps it
// in atomically: requests in flight finish on the old one. An invalid
// config is refused and logged, and the old one stays. Listeners and the
// store are not rebuilt: a change of their addresses takes effect at the
// next start, and the log says so.
func reloadConfig(path string, p *proxy.Proxy, current *atomic.Pointer[policy.Config], log *slog.Logger, m *metrics.Metrics) error {
	reloadMu.Lock()
	defer reloadMu.Unlock()
	next, err := policy.Load(path)
	if err == nil {
		err = p.Reload(next)
	}
	m.Reload(err == nil)
	if err != nil {
		log.Error("reload refused; the old config stays", "err", err)
		return err
	}
	old := current.Swap(next)
	if old.Listen != next.Listen || old.Admin.Listen != next.Admin.Listen || old.TLS.Listen != next.TLS.Listen ||
		old.Store.Backend != next.Store.Backend || !slices.Equal(old.Store.Redis.Addrs, next.Store.Redis.Addrs) {
		log.Warn("listeners and the store are kept on reload; their new settings take effect at the next start")
	}
	log.Info("config reloaded", "file", path)
	return nil
}

// newLogger builds the slog logger the config asks for.
func newLogger(lc policy.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(lc.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	// Warnings and errors of one kind are written once per interval with
	// a count: a Redis outage must not flood the log.
	if lc.Format == "json" {
		return slog.New(lograte.New(slog.NewJSONHandler(w, opts), lograte.DefaultInterval))
	}
	return slog.New(lograte.New(slog.NewTextHandler(w, opts), lograte.DefaultInterval))
}
