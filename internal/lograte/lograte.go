// Package lograte keeps a fault from flooding the log: a slog.Handler that
// writes the first warning or error of a kind at once and counts the
// repeats, written as one summary line per interval.
//
// A kind is a record's message: cachegate logs "store get", "store set",
// "collapse: releasing the lease" with the key and error as attributes, so
// one message is one kind of failure however many keys it hits. Without
// this, a Redis outage at 30k requests a second wrote 73,716 lines in 3 s.
package lograte

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// DefaultInterval is how long repeats of one kind are counted before their
// summary is written.
const DefaultInterval = 10 * time.Second

// maxKinds bounds the kinds tracked at once; records of further kinds pass
// through unlimited, so a message built from request data cannot grow the
// table without bound.
const maxKinds = 1024

// Handler limits the warnings and errors written to an inner handler; it
// passes records below slog.LevelWarn (access lines, debug) through as
// they come. The first record of a kind is written at once; the repeats
// within the interval that follows are counted, and when it ends one line
// "MESSAGE: repeated N times in the last INTERVAL" is written, with
// repeated=N. An interval without repeats ends the kind's limit: its next
// record is written at once again. Suppressing a record allocates nothing.
type Handler struct {
	inner slog.Handler
	s     *limits
}

// limits is the state shared by a Handler and those derived from it by
// WithAttrs and WithGroup.
type limits struct {
	interval time.Duration
	// after runs f once d has passed (time.AfterFunc; replaced in tests).
	after func(d time.Duration, f func())

	mu    sync.Mutex
	kinds map[string]*kind
}

// kind is one message being limited.
type kind struct {
	// inner writes the summary: the handler of the record that started
	// the limit, with its attributes and groups.
	inner    slog.Handler
	level    slog.Level
	repeated int
}

// New returns a Handler over inner that counts repeats for interval (0
// means DefaultInterval).
func New(inner slog.Handler, interval time.Duration) *Handler {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Handler{inner: inner, s: &limits{
		interval: interval,
		after:    func(d time.Duration, f func()) { time.AfterFunc(d, f) },
		kinds:    make(map[string]*kind),
	}}
}

// Enabled reports whether the inner handler writes records of level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle writes r unless it repeats, within the interval, a warning or
// error of the same message.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn && !h.s.first(r.Message, r.Level, h.inner) {
		return nil
	}
	return h.inner.Handle(ctx, r)
}

// WithAttrs returns a Handler whose records carry attrs, sharing h's limits.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{inner: h.inner.WithAttrs(attrs), s: h.s}
}

// WithGroup returns a Handler whose attributes are in group name, sharing
// h's limits.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(name), s: h.s}
}

// first reports whether a record of msg is the first of its interval, to
// be written; otherwise it counts it.
func (s *limits) first(msg string, level slog.Level, inner slog.Handler) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.kinds[msg]; ok {
		k.repeated++
		return false
	}
	if len(s.kinds) >= maxKinds {
		return true
	}
	s.kinds[msg] = &kind{inner: inner, level: level}
	s.after(s.interval, func() { s.end(msg) })
	return true
}

// end closes msg's interval: it writes the summary of the repeats and
// counts on for another interval, or, when there were none, forgets msg.
func (s *limits) end(msg string) {
	s.mu.Lock()
	k := s.kinds[msg]
	n := k.repeated
	if n == 0 {
		delete(s.kinds, msg)
		s.mu.Unlock()
		return
	}
	k.repeated = 0
	s.after(s.interval, func() { s.end(msg) })
	s.mu.Unlock()
	r := slog.NewRecord(time.Now(), k.level, msg+": repeated "+strconv.Itoa(n)+" times in the last "+s.interval.String(), 0)
	r.AddAttrs(slog.Int("repeated", n))
	_ = k.inner.Handle(context.Background(), r)
}

var _ slog.Handler = (*Handler)(nil)
