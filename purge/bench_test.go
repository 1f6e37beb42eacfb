package purge

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/store"
)

// stored100k stores 100,000 entries carrying tag "shared" in st and
// returns one of them.
func stored100k(b *testing.B, st store.Store, seq uint64) *store.Entry {
	b.Helper()
	ctx := context.Background()
	var e *store.Entry
	for i := range 100_000 {
		e = &store.Entry{
			Key: fmt.Sprintf("https://www.example.com/articles/%d", i), URL: fmt.Sprintf("www.example.com/articles/%d", i), Route: "articles", Host: "www.example.com",
			Tags: []string{"shared", fmt.Sprintf("article-%d", i)}, Status: 200, Body: []byte("x"), Seq: seq,
			Header: map[string][]string{"Content-Type": {"text/html"}},
		}
		if err := st.Set(ctx, fmt.Sprintf("%064d", i), e, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

// BenchmarkPurgeTagOf100kEntries times one purge call of a tag that
// 100,000 stored entries carry: its cost does not depend on them.
func BenchmarkPurgeTagOf100kEntries(b *testing.B) {
	ctx := context.Background()
	b.Run("local", func(b *testing.B) {
		l := NewLocal()
		e := stored100k(b, store.NewMemory(1<<30), l.FillSeq(ctx))
		b.ResetTimer()
		for b.Loop() {
			l.Purge(ctx, []Scope{{Kind: Tag, Value: "shared"}}, false)
		}
		b.StopTimer()
		if l.Check(ctx, e) != Purged {
			b.Fatal("the entries were not purged")
		}
	})
	b.Run("redis", func(b *testing.B) {
		rc := config.Default().Store.Redis
		rc.Addrs, rc.KeyPrefix = []string{testutil.Redis().Addr()}, testutil.UniquePrefix(b)
		rs, err := store.NewRedis(rc)
		if err != nil {
			b.Fatal(err)
		}
		defer rs.Close()
		p := benchPurger(b, rs.Client(), rs.Prefix())
		e := stored100k(b, rs, p.FillSeq(ctx))
		b.ResetTimer()
		for b.Loop() {
			if _, err := p.Purge(ctx, []Scope{{Kind: Tag, Value: "shared"}}, false); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if p.Check(ctx, e) != Purged {
			b.Fatal("the entries were not purged")
		}
	})
}

// BenchmarkHitCheck is the extra cost a hit pays to apply the marks: with
// none, and after purges of 1,000 tags, 1,000 URLs and 100 prefixes.
func BenchmarkHitCheck(b *testing.B) {
	ctx := context.Background()
	e := &store.Entry{Key: "https://www.example.com/blog/2026/11/post?page=2", URL: "www.example.com/blog/2026/11/post?page=2", Route: "blog", Host: "www.example.com",
		Tags: []string{"post-1", "blog", "author-7"}, Status: 200}
	b.Run("no-marks", func(b *testing.B) {
		l := NewLocal()
		b.ReportAllocs()
		for b.Loop() {
			l.Check(ctx, e)
		}
	})
	b.Run("after-2100-purges", func(b *testing.B) {
		l := NewLocal()
		for i := range 1000 {
			l.Purge(ctx, []Scope{{Kind: Tag, Value: fmt.Sprintf("tag-%d", i)}, {Kind: URL, Value: fmt.Sprintf("www.example.com/p/%d", i)}}, false)
		}
		for i := range 100 {
			l.Purge(ctx, []Scope{{Kind: Prefix, Value: fmt.Sprintf("/section-%d/", i)}}, false)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if l.Check(ctx, e) != Valid {
				b.Fatal("untouched entry purged")
			}
		}
	})
	b.Run("redis-lease-valid", func(b *testing.B) {
		p := benchPurger(b, testutil.RedisClient(b), testutil.UniquePrefix(b))
		benchValid(b, p, *e, p.Check)
		if !p.Trusted() {
			b.Fatal("the lease lapsed during the benchmark: it measured the reads of the sequence")
		}
	})
}

// benchPurger is a purger with production's timing on client under
// prefix, healthy, closed when b ends.
func benchPurger(b *testing.B, c redis.UniversalClient, prefix string) *Redis {
	p := NewRedis(c, prefix, testutil.DiscardLogger())
	b.Cleanup(func() { p.Close() })
	waitHealthy(b, p)
	return p
}

// benchValid times answer on e stamped with p's sequence, which no purge
// touched: it must answer Valid. The timer is stopped when it returns.
func benchValid(b *testing.B, p *Redis, e store.Entry, answer func(context.Context, *store.Entry) Validity) {
	ctx := context.Background()
	e.Seq = p.FillSeq(ctx)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if answer(ctx, &e) != Valid {
			b.Fatal("untouched entry purged")
		}
	}
	b.StopTimer()
}

// BenchmarkFillVerify is what a fill adds to its store write (Verify, run
// twice by the proxy's save): one HGET of the sequence when no purge came
// since the fill started, and the catch-up from the log when one did. A
// hit never calls it.
func BenchmarkFillVerify(b *testing.B) {
	ctx := context.Background()
	e := &store.Entry{Key: "https://www.example.com/p", URL: "www.example.com/p", Route: "r", Host: "www.example.com", Status: 200}
	b.Run("redis-sequence-unchanged", func(b *testing.B) {
		p := benchPurger(b, testutil.RedisClient(b), testutil.UniquePrefix(b))
		benchValid(b, p, *e, p.Verify)
	})
	b.Run("redis-after-a-mark-of-another-url", func(b *testing.B) {
		// The worst case: the mirror is one purge behind at each verify.
		// The other instance's purger is not subscribed to the benchmark's
		// marks before it verifies; each iteration has it catch up.
		prefix := testutil.UniquePrefix(b)
		marker := benchPurger(b, testutil.RedisClient(b), prefix)
		p := benchPurger(b, testutil.RedisClient(b), prefix)
		e := *e
		e.Seq = p.FillSeq(ctx)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			if err := marker.Mark(ctx, []Scope{{Kind: URL, Value: fmt.Sprintf("www.example.com/other/%d", i)}}, time.Now().Add(time.Minute)); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if p.Verify(ctx, &e) != Valid {
				b.Fatal("untouched entry purged")
			}
		}
	})
}

// BenchmarkHitCheckPatterns is the cost a hit pays to apply the pattern
// marks, with 0, 10 and 1,000 active patterns (none matching the entry):
// "older" is an entry filled before every pattern purge (each pattern's
// literal start is compared), "older-same-prefix" one whose path shares
// the patterns' literal start (each pattern's glob is run: the worst
// case), "newer" one filled after them (each costs a comparison of
// sequence values).
func BenchmarkHitCheckPatterns(b *testing.B) {
	ctx := context.Background()
	e := &store.Entry{Key: "https://www.example.com/blog/2026/11/post?page=2", URL: "www.example.com/blog/2026/11/post?page=2", Route: "blog", Host: "www.example.com",
		Tags: []string{"post-1", "blog", "author-7"}, Status: 200}
	for _, n := range []int{0, 10, 1000} {
		l := NewLocal()
		l.SetPatternLimit(n + 1)
		older := l.FillSeq(ctx)
		for i := range n {
			l.Purge(ctx, []Scope{{Kind: Pattern, Value: fmt.Sprintf("/users/*/%d/**", i)}}, false)
		}
		newer := l.FillSeq(ctx)
		for _, age := range []struct {
			name string
			seq  uint64
			url  string
		}{{"older", older, e.URL}, {"older-same-prefix", older, "www.example.com/users/5/posts/page-2"}, {"newer", newer, e.URL}} {
			b.Run(fmt.Sprintf("patterns-%d/%s", n, age.name), func(b *testing.B) {
				e := *e
				e.Seq, e.URL = age.seq, age.url
				b.ReportAllocs()
				for b.Loop() {
					if l.Check(ctx, &e) != Valid {
						b.Fatal("untouched entry purged")
					}
				}
			})
		}
	}
}
