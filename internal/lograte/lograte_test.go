package lograte

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// timers is a clock for the limits: the intervals end when the test says.
type timers struct {
	mu      sync.Mutex
	pending []func()
}

func (c *timers) after(_ time.Duration, f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = append(c.pending, f)
}

// fire ends every interval started so far.
func (c *timers) fire() {
	c.mu.Lock()
	fs := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

func newTestLogger(level slog.Level) (*slog.Logger, *bytes.Buffer, *timers) {
	var buf bytes.Buffer
	h := New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level}), 10*time.Second)
	c := &timers{}
	h.s.after = c.after
	return slog.New(h), &buf, c
}

func lines(buf *bytes.Buffer) []string {
	s := strings.TrimSpace(buf.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestABurstOfOneThousandErrorsWritesOneLineThenOneSummary(t *testing.T) {
	log, buf, clock := newTestLogger(slog.LevelInfo)
	err := errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	for i := range 1000 {
		log.Error("store get", "key", i, "err", err)
	}
	got := lines(buf)
	if len(got) != 1 || !strings.Contains(got[0], `msg="store get"`) || !strings.Contains(got[0], "key=0") {
		t.Fatalf("after 1000 errors, before the interval ends: %d lines %q, want the first error only", len(got), got)
	}
	clock.fire()
	got = lines(buf)
	if len(got) != 2 || !strings.Contains(got[1], `store get: repeated 999 times in the last 10s`) || !strings.Contains(got[1], "repeated=999") || !strings.Contains(got[1], "level=ERROR") {
		t.Fatalf("after the interval: %q, want the first error and a summary of 999 repeats at ERROR", got)
	}
	// A quiet interval ends the limit: the next error is written at once.
	clock.fire()
	log.Error("store get", "key", "again", "err", err)
	if got = lines(buf); len(got) != 3 || !strings.Contains(got[2], "key=again") {
		t.Fatalf("after a quiet interval: %q, want the new error written at once", got)
	}
}

func TestKindsAreLimitedApartAndInfoPassesThrough(t *testing.T) {
	log, buf, clock := newTestLogger(slog.LevelInfo)
	for range 100 {
		log.Error("store get", "err", "x")
		log.Warn("collapse: releasing the lease", "err", "x")
		log.With("component", "purge").Error("store get", "err", "y")
		log.Info("access", "status", 200)
	}
	var get, lease, access int
	for _, l := range lines(buf) {
		switch {
		case strings.Contains(l, `msg="store get"`):
			get++
		case strings.Contains(l, `msg="collapse: releasing the lease"`):
			lease++
		case strings.Contains(l, "msg=access"):
			access++
		}
	}
	if get != 1 || lease != 1 || access != 100 {
		t.Errorf("lines: store get %d, lease %d, access %d; want 1, 1 and 100 (info is not limited)", get, lease, access)
	}
	clock.fire()
	out := buf.String()
	if !strings.Contains(out, "store get: repeated 199 times") || !strings.Contains(out, "collapse: releasing the lease: repeated 99 times") {
		t.Errorf("summaries missing or miscounted:\n%s", out)
	}
}

func TestTheKindTableIsBounded(t *testing.T) {
	log, buf, _ := newTestLogger(slog.LevelInfo)
	for i := range maxKinds + 10 {
		log.Warn("kind " + strconv.Itoa(i))
	}
	h := log.Handler().(*Handler)
	if n := len(h.s.kinds); n > maxKinds {
		t.Errorf("%d kinds tracked, want at most %d", n, maxKinds)
	}
	if n := len(lines(buf)); n != maxKinds+10 {
		t.Errorf("%d lines for %d first records, want each written", n, maxKinds+10)
	}
}

func TestSuppressingARecordAllocatesNothing(t *testing.T) {
	h := New(slog.NewTextHandler(&bytes.Buffer{}, nil), time.Hour)
	h.s.after = func(time.Duration, func()) {}
	r := slog.NewRecord(time.Now(), slog.LevelError, "store get", 0)
	r.AddAttrs(slog.String("key", "k"))
	ctx := context.Background()
	_ = h.Handle(ctx, r)
	if n := testing.AllocsPerRun(1000, func() { _ = h.Handle(ctx, r) }); n != 0 {
		t.Errorf("a suppressed record allocates %v times, want 0", n)
	}
}
