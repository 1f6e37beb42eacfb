package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cachegate/cachegate/accesslog"
	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/lograte"
)

// logSettings are the log options a reload changes in place: the level
// (a slog.LevelVar every handler reads) and the format (a switch every
// handler derived with With reads), and the access log's format and
// output (access). access_log.enabled is read per request by the proxy
// from the config.
type logSettings struct {
	level  slog.LevelVar
	json   atomic.Bool
	access *accesslog.Log
}

// newLogger builds the slog logger the config asks for, and the settings
// through which a reload changes its level and format.
func newLogger(lc config.LogConfig, w io.Writer) (*slog.Logger, *logSettings) {
	s := &logSettings{}
	s.apply(lc)
	opts := &slog.HandlerOptions{Level: &s.level}
	w = &lockedWriter{w: w} // the two handlers never interleave a line
	h := formatSwitch{json: &s.json, text: slog.NewTextHandler(w, opts), js: slog.NewJSONHandler(w, opts)}
	// Warnings and errors of one kind are written once per interval with
	// a count: a Redis outage must not flood the log.
	return slog.New(lograte.New(h, lograte.DefaultInterval)), s
}

// apply sets the level and format of lc, which config.Parse validated.
func (s *logSettings) apply(lc config.LogConfig) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(lc.Level)); err != nil {
		level = slog.LevelInfo
	}
	s.level.Set(level)
	s.json.Store(lc.Format == "json")
}

// openAccessLog starts the access log of ac; "stdout" and "stderr" name
// stdout and stderr.
func (s *logSettings) openAccessLog(ac config.AccessLogConfig, stdout, stderr io.Writer) error {
	l, err := accesslog.Open(accessLogSettings(ac), stdout, stderr)
	s.access = l
	return err
}

// applyAccessLog gives the access log the format and output of ac (a
// reload); a file that cannot be opened is an error, and the old output
// stays.
func (s *logSettings) applyAccessLog(ac config.AccessLogConfig) error {
	return s.access.Configure(accessLogSettings(ac))
}

// accessLogSettings are ac as accesslog takes them.
func accessLogSettings(ac config.AccessLogConfig) accesslog.Settings {
	return accesslog.Settings{Enabled: ac.Enabled, Format: ac.Format, Output: ac.Output}
}

// reopenAccessLogOnSIGUSR1 reopens the access log's file at each SIGUSR1
// (sent by logrotate after it moved the file) until ctx ends.
func reopenAccessLogOnSIGUSR1(ctx context.Context, l *accesslog.Log, log *slog.Logger) {
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	for {
		select {
		case <-ctx.Done():
			return
		case <-usr1:
			if err := l.Reopen(); err != nil {
				log.Error("access log: reopen on SIGUSR1", "err", err)
			}
		}
	}
}

// formatSwitch writes each record through the text or the JSON handler,
// whichever json says at the time: both are built on the same writer and
// level, and With and WithGroup derive both, so that a logger derived
// before a reload follows the new format too.
type formatSwitch struct {
	json     *atomic.Bool
	text, js slog.Handler
}

func (h formatSwitch) current() slog.Handler {
	if h.json.Load() {
		return h.js
	}
	return h.text
}

func (h formatSwitch) Enabled(ctx context.Context, l slog.Level) bool {
	return h.current().Enabled(ctx, l)
}

func (h formatSwitch) Handle(ctx context.Context, r slog.Record) error {
	return h.current().Handle(ctx, r)
}

func (h formatSwitch) WithAttrs(attrs []slog.Attr) slog.Handler {
	return formatSwitch{json: h.json, text: h.text.WithAttrs(attrs), js: h.js.WithAttrs(attrs)}
}

func (h formatSwitch) WithGroup(name string) slog.Handler {
	return formatSwitch{json: h.json, text: h.text.WithGroup(name), js: h.js.WithGroup(name)}
}

// lockedWriter serializes the writes of the text and the JSON handler,
// each of which locks only itself.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
