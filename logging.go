package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/lograte"
)

// logSettings are the log options a reload changes in place: the level
// (a slog.LevelVar every handler reads) and the format (a switch every
// handler derived with With reads). log.access is read per request by the
// proxy from the config.
type logSettings struct {
	level slog.LevelVar
	json  atomic.Bool
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
