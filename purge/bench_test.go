package purge

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cachegate/cachegate/config"
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
		rc.Addrs, rc.KeyPrefix = []string{server.Addr()}, "bench"
		rs, err := store.NewRedis(rc)
		if err != nil {
			b.Fatal(err)
		}
		defer rs.Close()
		p := NewRedis(rs.Client(), rs.Prefix(), discardLog())
		defer p.Close()
		waitHealthy(b, p)
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
		p := NewRedis(redisClient(b), uniquePrefixB(b), discardLog())
		defer p.Close()
		waitHealthy(b, p)
		e := *e
		e.Seq = p.FillSeq(ctx)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if p.Check(ctx, &e) != Valid {
				b.Fatal("untouched entry purged")
			}
		}
		b.StopTimer()
		if !p.Trusted() {
			b.Fatal("the lease lapsed during the benchmark: it measured the reads of the sequence")
		}
	})
}

// uniquePrefixB is uniquePrefix for benchmarks.
func uniquePrefixB(b *testing.B) string { return fmt.Sprintf("%s-%d", b.Name(), runs.Add(1)) }

// BenchmarkFillVerify is what a fill adds to its store write (Verify, run
// twice by the proxy's save): one HGET of the sequence when no purge came
// since the fill started, and the catch-up from the log when one did. A
// hit never calls it.
func BenchmarkFillVerify(b *testing.B) {
	ctx := context.Background()
	e := &store.Entry{Key: "https://www.example.com/p", URL: "www.example.com/p", Route: "r", Host: "www.example.com", Status: 200}
	b.Run("redis-sequence-unchanged", func(b *testing.B) {
		p := NewRedis(redisClient(b), uniquePrefixB(b), discardLog())
		defer p.Close()
		waitHealthy(b, p)
		e := *e
		e.Seq = p.FillSeq(ctx)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if p.Verify(ctx, &e) != Valid {
				b.Fatal("untouched entry purged")
			}
		}
	})
	b.Run("redis-after-a-mark-of-another-url", func(b *testing.B) {
		// The worst case: the mirror is one purge behind at each verify.
		// The other instance's purger is not subscribed to the benchmark's
		// marks before it verifies; each iteration has it catch up.
		prefix := uniquePrefixB(b)
		marker := NewRedis(redisClient(b), prefix, discardLog())
		defer marker.Close()
		p := NewRedis(redisClient(b), prefix, discardLog())
		defer p.Close()
		waitHealthy(b, marker)
		waitHealthy(b, p)
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
