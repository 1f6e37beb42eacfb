// Command cachegate is a caching reverse proxy: it stores the origin's
// responses in memory or Redis under YAML route rules, honours HTTP caching
// (RFC 9111) and offers a purge API.
//
//	cachegate -config FILE            run the proxy
//	cachegate validate -config FILE   check a config, list every problem
//	cachegate purge [flags]           purge through the admin API (-tag, -url, -prefix, -host, -route, -all, -soft)
//	cachegate health [-ready]         exit 0 when the admin API says the instance is healthy (ready)
//	cachegate stat [flags]            a live view of a running instance (-once -json for scripts)
//	cachegate log [flags]             stream the live request records (-json, -ncsa, filters)
//	cachegate top [flags]             the URLs with the most misses, origin time or bytes
//	cachegate demo                    run a demo origin and the proxy before it
//	cachegate version                 print the version
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cachegate/cachegate/accesslog"
	"github.com/cachegate/cachegate/admin"
	"github.com/cachegate/cachegate/certs"
	"github.com/cachegate/cachegate/config"
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
	cmd, args := splitCommand(args)
	fs := flag.NewFlagSet("cachegate "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "cachegate.yaml", "the configuration `file`")
	if client, ok := clientCommands[cmd]; ok {
		return client(args, stdout, stderr)
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if extra := fs.Args(); len(extra) > 0 {
		fmt.Fprintf(stderr, "cachegate %s: unexpected arguments %q\n", cmd, extra)
		return 2
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "cachegate", buildVersion())
		return 0
	case "validate":
		cfg, err := config.Load(*configPath)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		for _, w := range cfg.Warnings {
			fmt.Fprintln(stderr, "warning: "+w.In(*configPath))
		}
		fmt.Fprintf(stdout, "%s: ok\n", *configPath)
		return 0
	case "serve":
		cfg, err := config.Load(*configPath)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return serve(cfg, stderr, nil)
	default:
		fmt.Fprintf(stderr, "cachegate: unknown command %q (serve, validate, purge, log, top, demo, version)\n", cmd)
		return 2
	}
}

// clientCommands are the subcommands with flags of their own, mostly
// clients of a running instance's admin API (see adminFlags).
var clientCommands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"purge": runPurge,
	"stat":  runStat,
	"log":   runLog,
	"top":   runTop,

	// The Dockerfile's HEALTHCHECK.
	"health": runHealth,
}

func isFlag(s string) bool { return len(s) > 0 && s[0] == '-' }

// splitCommand finds the subcommand wherever it stands among the arguments
// (`cachegate -config f.yaml validate` as well as `cachegate validate -config
// f.yaml`) and returns it with the other arguments, in order; "serve" when
// there is none. The flags before a subcommand are the common ones, which all
// take a value, so a flag without "=" skips the argument after it.
func splitCommand(args []string) (string, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return "serve", args
		case isFlag(a):
			if !strings.Contains(a, "=") && !isHelp(a) {
				i++
			}
		default:
			return a, append(slices.Clone(args[:i]), args[i+1:]...)
		}
	}
	return "serve", args
}

// isHelp reports whether a is one of the help flags, which take no value.
func isHelp(a string) bool {
	a = strings.TrimLeft(a, "-")
	return a == "h" || a == "help"
}

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

// newMetrics is the metrics of a server that has just loaded its config:
// the load counts as the last successful reload.
func newMetrics() *metrics.Metrics {
	m := metrics.New(buildVersion())
	m.ConfigLoaded()
	return m
}

// serve runs the proxy and admin listeners until SIGINT or SIGTERM;
// SIGHUP reloads the config file.
//
// ready, when not nil, is called once every listener is open and the
// signals are handled (the demo prints its walkthrough then).
func serve(cfg *config.Config, stderr io.Writer, ready func()) int {
	signals, stopSignals := serveSignals()
	defer stopSignals()
	defer startHeapFloor(int64(cfg.GC.HeapFloor)).Stop()
	log, logs := newLogger(cfg.Log, stderr)
	logConfigWarnings(log, cfg)
	store.LogRedisAtDebug(log)
	if err := logs.openAccessLog(cfg.AccessLog, os.Stdout, stderr); err != nil {
		log.Error("config", "err", err)
		return 1
	}
	defer logs.access.Close() // after the listeners: every request is written
	live := accesslog.NewHub(accesslog.MaxViewers, accesslog.ViewerBuffer)
	m := newMetrics()
	m.AccessLogFunc(func() (uint64, int, uint64) { return logs.access.Dropped(), live.Viewers(), live.Dropped() })
	be, err := openBackend(cfg, log, m)
	if err != nil {
		log.Error("store", "err", err)
		return 1
	}
	defer be.Close()
	rules, err := policy.Compile(cfg)
	if err != nil {
		log.Error("config", "err", err)
		return 1
	}
	var current atomic.Pointer[policy.Rules]
	current.Store(rules)
	// Every purge and invalidation mark goes through the audit: one log
	// line each, and GET /purges.
	audited := purge.NewAudited(be.purger, log, m.PurgeSource)
	purges := &admin.Purges{Purger: audited, Config: current.Load, Log: log, OnPurge: m.Purge}
	p, err := proxy.New(rules, proxy.Options{
		Store: metrics.InstrumentStore(be.store, cfg.Store.Backend, m), Purger: audited, Collapse: be.collapse,
		Metrics: m, Logger: log, PURGE: purges.ServePURGE, AccessLog: logs.access, Live: live,
	})
	if err != nil {
		log.Error("proxy", "err", err)
		return 1
	}
	defer p.Close()
	reload := func() ([]string, error) { return reloadConfig(cfg.File, cfg, p, &current, logs, log, m) }
	ls := &listeners{log: log, limits: cfg.ClientLimits, hitLane: cfg.HitLane}
	plain, proxyLn, err := ls.listenProxy(cfg.Listen, p)
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
		adminSrv, adminLn, err := ls.listen(cfg.Admin.Listen, admin.New(admin.Options{
			Config: current.Load, Purges: purges, PurgeLog: audited, Reload: reload, Entries: p,
			Ready:   admin.Readiness{Redis: be.redis, Breaker: be.breaker, Marks: be.marks, Backends: p.Backends},
			Metrics: m, Certs: mgr, Live: live,
		}))
		if err != nil {
			log.Error("admin", "err", err)
			return 1
		}
		adminSrv.RegisterOnShutdown(live.Close) // streams end; the shutdown does not wait on them
		log.Info("admin listening", "addr", adminLn.Addr().String())
	}
	log.Info("cachegate listening", "addr", proxyLn.Addr().String(), "origin", cfg.Origin,
		"store", cfg.Store.Backend, "version", buildVersion())
	warmCtx, stopWarm := context.WithCancel(context.Background())
	defer stopWarm()
	go p.Warm(warmCtx, m.Warm)
	go reopenAccessLogOnSIGUSR1(warmCtx, logs.access, log)
	if ready != nil {
		ready()
	}
	return ls.serve(signals, func() { reload() }, func() time.Duration { return current.Load().ShutdownTimeout.D() })
}
