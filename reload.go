package main

import (
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/metrics"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/proxy"
)

// reloadMu serializes reloads (SIGHUP and POST /reload).
var reloadMu sync.Mutex

// reloadConfig reads the config file at path again and, if it is valid,
// applies it: the proxy's rules, origin transport and collapsing bounds
// (proxy.Reload), the log level and format and the access log's format and
// output (logs; an access log file that cannot be opened refuses the
// reload), and current, which the
// admin API reads. Requests in flight finish on the old config. An invalid
// config is refused and logged, and the old one stays.
//
// Options read only at start (config.RestartOptions: listeners, the store,
// TLS, the server limits) keep the values of started, the config the
// process started with: restartNeeded names those the file sets
// otherwise, at this reload and every later one until a restart, and the
// log says they take effect at the next start.
func reloadConfig(path string, started *config.Config, p *proxy.Proxy, current *atomic.Pointer[policy.Rules], logs *logSettings, log *slog.Logger, m *metrics.Metrics) (restartNeeded []string, err error) {
	reloadMu.Lock()
	defer reloadMu.Unlock()
	var next *policy.Rules
	cfg, err := config.Load(path)
	if err == nil {
		next, err = policy.Compile(cfg)
	}
	if err == nil {
		err = logs.applyAccessLog(cfg.AccessLog)
	}
	if err == nil {
		if err = p.Reload(next); err != nil {
			logs.applyAccessLog(current.Load().AccessLog) // back to the old one
		}
	}
	m.Reload(err == nil)
	if err != nil {
		log.Error("reload refused; the old config stays", "err", err)
		return nil, err
	}
	current.Store(next)
	logs.apply(cfg.Log)
	logConfigWarnings(log, cfg)
	restartNeeded = config.RestartNeeded(started, cfg)
	if len(restartNeeded) > 0 {
		log.Warn("config reloaded, but these options take effect at the next start", "file", path,
			"restart_needed", strings.Join(restartNeeded, ", "))
		return restartNeeded, nil
	}
	log.Info("config reloaded", "file", path)
	return nil, nil
}

// logConfigWarnings logs each of cfg's Warnings (what the file allows but
// likely did not mean) with its file, line and option.
func logConfigWarnings(log *slog.Logger, cfg *config.Config) {
	for _, w := range cfg.Warnings {
		log.Warn("config warning", "warning", w.In(cfg.File))
	}
}
