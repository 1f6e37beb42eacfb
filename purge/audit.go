package purge

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// The sources of a purge, as the audit names them.
const (
	SourceAPI         = "api"          // POST /purge on the admin listener
	SourceWebhook     = "webhook"      // POST /webhooks/{name}
	SourcePURGE       = "purge-method" // the PURGE method on the proxy listener
	SourceUnsafe      = "unsafe"       // the invalidation after an unsafe request (RFC 9111 §4.4)
	SourceCacheGroup  = "cache-group"  // Cache-Group-Invalidation (RFC 9875 §3)
	SourceRule        = "rule"         // a route's invalidate rules after a successful unsafe request
	sourceUnspecified = "unspecified"  // a caller that named none
)

// Source says where a purge came from: its kind (one of the Source*
// constants) and who or what asked (the API caller's address, the
// webhook's name, the unsafe request's method and URL).
type Source struct {
	Kind string `json:"kind"`
	By   string `json:"by,omitempty"`
}

type sourceKey struct{}

// WithSource returns ctx carrying s: the source the audit records for a
// purge or a mark made with it. It travels in the context so that the
// Purger interface stays what purging needs.
func WithSource(ctx context.Context, s Source) context.Context {
	return context.WithValue(ctx, sourceKey{}, s)
}

// SourceOf is the source WithSource put in ctx, or one of kind
// "unspecified".
func SourceOf(ctx context.Context) Source {
	if s, ok := ctx.Value(sourceKey{}).(Source); ok {
		return s
	}
	return Source{Kind: sourceUnspecified}
}

// Record is one purge as the audit keeps it (GET /purges).
type Record struct {
	Time   time.Time `json:"time"`
	Source Source    `json:"source"`
	// Scopes are "kind:value" ("all" alone), at most recordScopes of them;
	// ScopeCount is how many the purge had.
	Scopes     []string `json:"scopes"`
	ScopeCount int      `json:"scope_count"`
	Soft       bool     `json:"soft"`
	// Seq is the sequence value a purge took (0 for a mark, whose
	// sequence the Purger does not return).
	Seq uint64 `json:"seq,omitempty"`
	// Result is "applied", "lagging: <instances>" or "failed: <error>".
	Result string `json:"result"`
}

// The audit's bounds: what a client controls (the scopes of a purge, the
// URL of an unsafe request) never grows memory or a log line unbounded.
const (
	// recentPurges is how many records Recent keeps.
	recentPurges = 100
	// recordScopes is how many scopes a record and a log line list.
	recordScopes = 100
	// recordValue is the longest scope value or By kept in a record.
	recordValue = 512
)

// Audited is a Purger that logs every purge and mark once, with its
// source (SourceOf), scopes and result, and keeps the last ones for
// GET /purges. The admin API, the webhooks, the PURGE method and the
// proxy's unsafe-method invalidation all purge through it: one place
// logs and records, whoever asked.
type Audited struct {
	Purger
	log *slog.Logger
	// onPurge, when set, is told the source kind of each purge (metrics).
	onPurge func(source string)
	now     func() time.Time

	mu     sync.Mutex
	recent [recentPurges]Record
	next   int // where the next record goes
	held   int // how many of recent are set
}

// NewAudited wraps p; onPurge may be nil.
func NewAudited(p Purger, log *slog.Logger, onPurge func(source string)) *Audited {
	return &Audited{Purger: p, log: log, onPurge: onPurge, now: time.Now}
}

// Purge implements Purger, logging and recording the purge.
func (a *Audited) Purge(ctx context.Context, scopes []Scope, soft bool) (Result, error) {
	res, err := a.Purger.Purge(ctx, scopes, soft)
	result := "applied"
	switch {
	case err != nil:
		result = "failed: " + err.Error()
	case len(res.Widened) > 0:
		// Too many active pattern marks: the purger took the patterns'
		// hosts (or everything) instead, never less.
		result = "widened (cache.max_pattern_purges): " + clippedList(res.Widened)
	case len(res.Lagging) > 0:
		result = "lagging: " + strings.Join(res.Lagging, ", ")
	}
	a.record(ctx, scopes, soft, res.Seq, result)
	return res, err
}

// Mark implements Purger, logging and recording the mark. A mark Redis
// refused is applied here and retried (Redis.Mark): its result says so.
func (a *Audited) Mark(ctx context.Context, scopes []Scope, until time.Time) error {
	err := a.Purger.Mark(ctx, scopes, until)
	result := "applied"
	if err != nil {
		result = "failed: " + err.Error()
	}
	a.record(ctx, scopes, false, 0, result)
	return err
}

// record logs one line "purge" and keeps the record.
func (a *Audited) record(ctx context.Context, scopes []Scope, soft bool, seq uint64, result string) {
	rec := Record{
		Time: a.now(), Source: SourceOf(ctx), Scopes: make([]string, 0, min(len(scopes), recordScopes)),
		ScopeCount: len(scopes), Soft: soft, Seq: seq, Result: result,
	}
	for _, s := range scopes[:min(len(scopes), recordScopes)] {
		rec.Scopes = append(rec.Scopes, clip(scopeText(s)))
	}
	rec.Source.By = clip(rec.Source.By)
	level := slog.LevelInfo
	if strings.HasPrefix(result, "failed") || strings.HasPrefix(result, "widened") {
		level = slog.LevelWarn
	}
	a.log.Log(ctx, level, "purge", "source", rec.Source.Kind, "by", rec.Source.By, "scopes", rec.Scopes,
		"scope_count", rec.ScopeCount, "soft", soft, "seq", seq, "result", result)
	if a.onPurge != nil {
		a.onPurge(rec.Source.Kind)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recent[a.next] = rec
	a.next = (a.next + 1) % recentPurges
	a.held = min(a.held+1, recentPurges)
}

// Recent returns the last purges this instance made, newest first.
func (a *Audited) Recent() []Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Record, 0, a.held)
	for i := 1; i <= a.held; i++ {
		out = append(out, a.recent[(a.next-i+recentPurges)%recentPurges])
	}
	return out
}

// ActiveMarks is the number of purge marks the wrapped Purger holds (as
// varnishadm ban.list shows the bans), or false when it cannot say.
func (a *Audited) ActiveMarks() (int, bool) {
	if c, ok := a.Purger.(interface{ ActiveMarks() int }); ok {
		return c.ActiveMarks(), true
	}
	return 0, false
}

// scopeText is a scope as the audit shows it: "kind:value", or "all".
func scopeText(s Scope) string {
	name := kindNames[s.Kind]
	if name == "" {
		name = string(rune(s.Kind))
	}
	if s.Kind == All {
		return name
	}
	return name + ":" + s.Value
}

// kindNames name the scope kinds in the audit.
var kindNames = map[Kind]string{
	All: "all", Host: "host", Route: "route", Tag: "tag", Prefix: "prefix", URL: "url", Group: "group",
	Pattern: "pattern",
}

// clippedList joins at most recordScopes of values, each clipped, and
// says how many it left out: the patterns a purge widened are a client's
// too (a webhook's payload), and the result is kept and logged.
func clippedList(values []string) string {
	shown := make([]string, 0, min(len(values), recordScopes))
	for _, v := range values[:min(len(values), recordScopes)] {
		shown = append(shown, clip(v))
	}
	s := strings.Join(shown, ", ")
	if n := len(values) - len(shown); n > 0 {
		s += fmt.Sprintf(" and %d more", n)
	}
	return s
}

// clip cuts s to recordValue bytes, marking the cut.
func clip(s string) string {
	if len(s) <= recordValue {
		return s
	}
	return strings.ToValidUTF8(s[:recordValue], "") + "…"
}
