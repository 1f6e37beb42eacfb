package purge

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/store"
)

// entryAt is an entry of keyURL (Key.URL form) stamped seq.
func entryAt(keyURL string, seq uint64) *store.Entry {
	host, _, _ := strings.Cut(keyURL, "/")
	return &store.Entry{Key: "https://" + keyURL, URL: keyURL, Route: "default", Host: host, Status: 200, Seq: seq}
}

// patternScope is the scope of pattern as the admin API makes it.
func patternScope(t testing.TB, pattern string) Scope {
	t.Helper()
	v, err := policy.PatternScope(pattern)
	if err != nil {
		t.Fatalf("pattern %q: %v", pattern, err)
	}
	return Scope{Kind: Pattern, Value: v}
}

func TestPatternPurgeTakesEveryPathItMatchesAndNoOther(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		pattern string
		purged  []string
		kept    []string
	}{
		{"/users/42/**", []string{"a.example/users/42/a", "b.example/users/42/b/c?page=2", "a.example/users/42/"}, []string{"a.example/users/421/a", "a.example/users/4/a", "a.example/users/42"}},
		{"/users/42/*", []string{"a.example/users/42/a?x=1"}, []string{"a.example/users/42/b/c", "a.example/users/421/a"}},
		{"a.example/api/users/*/posts", []string{"a.example/api/users/7/posts"}, []string{"b.example/api/users/7/posts", "a.example/api/users/7/posts/1"}},
		{"https://A.example:443/api/**/posts", []string{"a.example/api/posts", "a.example/api/users/7/posts"}, []string{"b.example/api/posts"}},
		{"/search/[*]", []string{"a.example/search/*"}, []string{"a.example/search/x"}},
	} {
		l := NewLocal()
		seq := l.FillSeq(ctx)
		if _, err := l.Purge(ctx, []Scope{patternScope(t, tc.pattern)}, false); err != nil {
			t.Fatal(err)
		}
		for _, u := range tc.purged {
			if v := l.Check(ctx, entryAt(u, seq)); v != Purged {
				t.Errorf("pattern %q: %s is %v, want purged", tc.pattern, u, v)
			}
		}
		for _, u := range tc.kept {
			if v := l.Check(ctx, entryAt(u, seq)); v != Valid {
				t.Errorf("pattern %q: %s is %v, want valid", tc.pattern, u, v)
			}
		}
		if v := l.Check(ctx, entryAt(tc.purged[0], l.FillSeq(ctx))); v != Valid {
			t.Errorf("pattern %q: an entry filled after the purge is %v, want valid", tc.pattern, v)
		}
	}
}

func TestSoftPatternPurgeMakesMatchingEntriesStale(t *testing.T) {
	ctx := context.Background()
	l := NewLocal()
	seq := l.FillSeq(ctx)
	l.Purge(ctx, []Scope{patternScope(t, "/users/*/a")}, true)
	if v := l.Check(ctx, entryAt("x.example/users/1/a", seq)); v != SoftPurged {
		t.Fatalf("validity = %v, want soft-purged", v)
	}
}

func TestPatternPurgesOverTheBoundAreWidenedNeverDropped(t *testing.T) {
	ctx := context.Background()
	l := NewLocal()
	l.SetPatternLimit(2)
	seq := l.FillSeq(ctx)
	for i := range 2 {
		res, _ := l.Purge(ctx, []Scope{patternScope(t, fmt.Sprintf("/p/%d/*", i))}, false)
		if len(res.Widened) > 0 {
			t.Fatalf("purge %d of 2 was widened: %v", i, res.Widened)
		}
	}
	// Purging an active pattern again only moves its mark.
	if res, _ := l.Purge(ctx, []Scope{patternScope(t, "/p/0/*")}, false); len(res.Widened) > 0 {
		t.Fatalf("an active pattern purged again was widened: %v", res.Widened)
	}
	l2 := NewLocal()
	l2.SetPatternLimit(1)
	twice := patternScope(t, "/twice/*")
	if res, _ := l2.Purge(ctx, []Scope{twice, twice}, false); len(res.Widened) > 0 {
		t.Fatalf("a pattern named twice in one purge counted twice: widened %v", res.Widened)
	}
	res, _ := l.Purge(ctx, []Scope{patternScope(t, "one.example/p/9/*")}, false)
	if len(res.Widened) != 1 {
		t.Fatalf("the pattern over the bound: widened %v, want it named", res.Widened)
	}
	if v := l.Check(ctx, entryAt("one.example/p/9/x", seq)); v != Purged {
		t.Errorf("the widened pattern's own entry is %v, want purged", v)
	}
	if v := l.Check(ctx, entryAt("one.example/other", seq)); v != Purged {
		t.Errorf("an entry of the widened pattern's host is %v, want purged (the host was purged)", v)
	}
	if v := l.Check(ctx, entryAt("two.example/other", seq)); v != Valid {
		t.Errorf("an entry of another host is %v, want valid", v)
	}
	res, _ = l.Purge(ctx, []Scope{patternScope(t, "/q/*")}, false)
	if len(res.Widened) != 1 || l.Check(ctx, entryAt("two.example/other", seq)) != Purged {
		t.Errorf("a pattern on every host over the bound must purge everything: widened %v", res.Widened)
	}
	if n := l.marks.activePatterns(); n != 2 {
		t.Errorf("%d active patterns, want the bound, 2", n)
	}
}

func TestPatternMarksAreTrimmedLikeOtherMarks(t *testing.T) {
	ctx := context.Background()
	l := NewLocal()
	l.Purge(ctx, []Scope{patternScope(t, "/a/*")}, false)
	l.marks.trim(l.now().Add(MarkHorizon))
	if n, m := l.marks.activePatterns(), len(l.marks.patterns); n != 0 || m != 0 {
		t.Fatalf("after the horizon: %d patterns in the table, %d compiled, want none", n, m)
	}
}

func TestRedisPatternPurgeIsAppliedByEveryInstanceAndByOneReloading(t *testing.T) {
	ctx := context.Background()
	prefix := testutil.UniquePrefix(t)
	a, b := newTestRedis(t, prefix), newTestRedis(t, prefix)
	waitHealthy(t, a, b)
	seq := a.FillSeq(ctx)
	if _, err := a.Purge(ctx, []Scope{patternScope(t, "/users/42/**")}, false); err != nil {
		t.Fatal(err)
	}
	late := newTestRedis(t, prefix)
	waitHealthy(t, late)
	for name, p := range map[string]*Redis{"purging": a, "other": b, "started later": late} {
		if v := p.Check(ctx, entryAt("a.example/users/42/b/c", seq)); v != Purged {
			t.Errorf("%s instance: /users/42/b/c is %v, want purged", name, v)
		}
		if v := p.Check(ctx, entryAt("a.example/users/421/a", seq)); v != Valid {
			t.Errorf("%s instance: /users/421/a is %v, want valid", name, v)
		}
	}
}

func TestAPatternThisVersionCannotReadPurgesEverythingOlder(t *testing.T) {
	m := newMarks()
	m.mu.Lock()
	m.set(Scope{Kind: Pattern, Value: "/a/[b"}, 5, false, time.Now())
	m.mu.Unlock()
	if v := m.check(entryAt("x.example/z", 4)); v != Purged {
		t.Fatalf("validity = %v, want purged (an unreadable pattern is taken as everything)", v)
	}
}

func TestRedisPatternPurgeOverTheBoundPurgesTheHostOnEveryInstance(t *testing.T) {
	ctx := context.Background()
	prefix := testutil.UniquePrefix(t)
	a, b := newTestRedis(t, prefix), newTestRedis(t, prefix)
	waitHealthy(t, a, b)
	a.SetPatternLimit(1)
	seq := a.FillSeq(ctx)
	if res, err := a.Purge(ctx, []Scope{patternScope(t, "/p/1/*")}, false); err != nil || len(res.Widened) > 0 {
		t.Fatalf("first pattern: %v %v", res, err)
	}
	res, err := a.Purge(ctx, []Scope{patternScope(t, "one.example/p/2/*")}, false)
	if err != nil || len(res.Widened) != 1 {
		t.Fatalf("pattern over the bound: widened %v, err %v; want it named", res.Widened, err)
	}
	for name, p := range map[string]*Redis{"purging": a, "other": b} {
		if v := p.Check(ctx, entryAt("one.example/elsewhere", seq)); v != Purged {
			t.Errorf("%s instance: an entry of the widened pattern's host is %v, want purged", name, v)
		}
		if v := p.Check(ctx, entryAt("two.example/p/2/x", seq)); v != Valid {
			t.Errorf("%s instance: another host's entry is %v, want valid", name, v)
		}
		if n := p.marks.activePatterns(); n != 1 {
			t.Errorf("%s instance: %d active patterns, want 1 (the bound)", name, n)
		}
	}
}
