package purge

import (
	"context"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/store"
)

func TestLocalMarkIsKeptUntilItsEntryLeavesAndNeverShortensAPurge(t *testing.T) {
	ctx := context.Background()
	l := NewLocal()
	now := time.Unix(1_000_000, 0)
	l.now = func() time.Time { return now }
	short := Scope{Kind: URL, Value: "a.example/short"}
	purged := Scope{Kind: URL, Value: "a.example/purged"}
	if _, err := l.Purge(ctx, []Scope{purged}, false); err != nil {
		t.Fatal(err)
	}
	// Unsafe requests to both URLs, whose entries leave the store in an hour.
	if err := l.Mark(ctx, []Scope{short, purged}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	entry := func(path string) *store.Entry {
		return &store.Entry{Key: "http://a.example/" + path, Host: "a.example", URL: "a.example/" + path, Status: 200}
	}
	if v := l.Check(ctx, entry("short")); v != Purged {
		t.Fatalf("right after the unsafe request the entry is %v, want purged", v)
	}
	// Two hours later, trimming (every 1024 purges) drops the short mark
	// only: the admin purge of the other URL keeps its whole horizon.
	now = now.Add(2 * time.Hour)
	for l.seq.Load()%1024 != 1023 {
		l.Purge(ctx, []Scope{{Kind: Tag, Value: "other"}}, false)
	}
	l.Purge(ctx, []Scope{{Kind: Tag, Value: "other"}}, false)
	l.marks.mu.RLock()
	_, shortKept := l.marks.byKind[URL][short.Value]
	_, purgedKept := l.marks.byKind[URL][purged.Value]
	l.marks.mu.RUnlock()
	if shortKept {
		t.Errorf("the mark of an unsafe request outlived the entry it invalidated (kept past until)")
	}
	if !purgedKept {
		t.Errorf("a later short-lived mark shortened an admin purge of the same URL")
	}
}

func TestRedisMarkIsKeptUntilItsEntryLeavesInRedisAndInEveryMirror(t *testing.T) {
	ctx := context.Background()
	prefix := testutil.UniquePrefix(t)
	c := testutil.RedisClient(t)
	a := newTestRedisOn(t, c, prefix, testTiming)
	b := newTestRedis(t, prefix)
	waitHealthy(t, a, b)
	gone := Scope{Kind: URL, Value: "a.example/gone"}
	hour := Scope{Kind: URL, Value: "a.example/hour"}
	full := Scope{Kind: URL, Value: "a.example/full"}
	if _, err := a.Purge(ctx, []Scope{full}, false); err != nil {
		t.Fatal(err)
	}
	// An entry that has already left: its mark is trimmed at once in Redis.
	if err := a.Mark(ctx, []Scope{gone}, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := a.Mark(ctx, []Scope{hour, full}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.HExists(ctx, a.keys.state, hardField+gone.String()).Result(); ok {
		t.Errorf("Redis keeps the mark of an entry that already left the store")
	}
	if ok, _ := c.HExists(ctx, a.keys.state, hardField+hour.String()).Result(); !ok {
		t.Fatalf("Redis lost the mark of an entry still stored")
	}
	score, _ := c.ZScore(ctx, a.keys.times, hour.String()).Result()
	if want := time.Now().Add(time.Hour - MarkHorizon); time.UnixMilli(int64(score)).After(want) {
		t.Errorf("the hour-long mark has time %v, want at most %v (trimmed an hour from now)", time.UnixMilli(int64(score)), want)
	}
	fullScore, _ := c.ZScore(ctx, a.keys.times, full.String()).Result()
	if time.UnixMilli(int64(fullScore)).Before(time.Now().Add(-time.Minute)) {
		t.Errorf("a short-lived mark shortened an admin purge's time in Redis")
	}
	// A mirror that learned the marks from the log, and one that reloaded
	// them, drop the hour-long mark when trimming an hour from now.
	late := newTestRedis(t, prefix)
	waitHealthy(t, late)
	b.catchUp(ctx)
	for name, p := range map[string]*Redis{"mirror": b, "reloaded": late} {
		p.marks.trim(time.Now().Add(2*time.Hour - MarkHorizon))
		p.marks.mu.RLock()
		_, hourKept := p.marks.byKind[URL][hour.Value]
		_, fullKept := p.marks.byKind[URL][full.Value]
		p.marks.mu.RUnlock()
		if hourKept {
			t.Errorf("%s: the hour-long mark outlives its entry", name)
		}
		if !fullKept {
			t.Errorf("%s: the admin purge's mark was dropped with it", name)
		}
	}
}
