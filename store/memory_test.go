package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// bodyEntry returns a response entry whose Size is exactly size (at least
// the size of an empty entry).
func bodyEntry(size int64) *Entry {
	e := &Entry{Status: 200}
	if n := size - e.Size(); n > 0 {
		e.Body = make([]byte, n)
	}
	return e
}

// fakeClock is an injectable clock for TTL tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestMemoryRoundTripReturnsTheStoredPointer(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(1 << 20)
	e := sampleEntry(100)
	if err := m.Set(ctx, "k", e, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := m.Get(ctx, "k")
	if err != nil {
		t.Fatalf("Get after Set: %v", err)
	}
	if got != e {
		t.Errorf("Get returned %p, want the stored pointer %p", got, e)
	}
	if _, err := m.Get(ctx, "other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing key: err %v, want ErrNotFound", err)
	}
	if m.Len() != 1 || m.Bytes() != e.Size() {
		t.Errorf("Len, Bytes = %d, %d; want 1, %d", m.Len(), m.Bytes(), e.Size())
	}
}

func TestMemorySetReplacesAndDeleteRemoves(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(1 << 20)
	a, b := bodyEntry(1000), bodyEntry(2000)
	_ = m.Set(ctx, "k", a, time.Minute)
	_ = m.Set(ctx, "k", b, time.Minute)
	if got, _ := m.Get(ctx, "k"); got != b {
		t.Errorf("Get after two Sets returned %p, want the second entry %p", got, b)
	}
	if m.Len() != 1 || m.Bytes() != b.Size() {
		t.Errorf("after replacing: Len, Bytes = %d, %d; want 1, %d", m.Len(), m.Bytes(), b.Size())
	}
	_ = m.Set(ctx, "j", a, time.Minute)
	if err := m.Delete(ctx, "k", "j", "absent"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if m.Len() != 0 || m.Bytes() != 0 {
		t.Errorf("after Delete: Len, Bytes = %d, %d; want 0, 0", m.Len(), m.Bytes())
	}
}

func TestMemoryNeverHoldsMoreThanMaxBytes(t *testing.T) {
	ctx := context.Background()
	const max = 64 << 10
	m := NewMemory(max)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 2000 {
				key := fmt.Sprintf("k%d", r.IntN(300))
				e := bodyEntry(256 + r.Int64N(max/4))
				if err := m.Set(ctx, key, e, time.Minute); err != nil {
					errs <- err
					return
				}
				if n := m.Bytes(); n > max {
					errs <- fmt.Errorf("goroutine %d, Set %d: Bytes() = %d, above the bound %d", g, i, n, max)
					return
				}
				_, _ = m.Get(ctx, fmt.Sprintf("k%d", r.IntN(300)))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var sum int64
	for i := range 300 {
		if e, err := m.Get(ctx, fmt.Sprintf("k%d", i)); err == nil {
			sum += e.Size()
		}
	}
	if sum > max {
		t.Errorf("retrievable entries add up to %d bytes, above the bound %d", sum, max)
	}
	if sum != m.Bytes() {
		t.Errorf("retrievable entries add up to %d bytes, Bytes() says %d", sum, m.Bytes())
	}
}

func TestMemoryEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	e := bodyEntry(1000)
	m := NewMemory(3 * e.Size())
	for _, k := range []string{"a", "b", "c"} {
		_ = m.Set(ctx, k, e, time.Minute)
	}
	if _, err := m.Get(ctx, "a"); err != nil {
		t.Fatalf("Get a: %v", err)
	}
	_ = m.Set(ctx, "d", e, time.Minute) // evicts b, the least recently used
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		_, err := m.Get(ctx, k)
		if got := err == nil; got != want {
			t.Errorf("after reading a and adding d to a full store: %s present = %v, want %v", k, got, want)
		}
	}
}

func TestMemoryDropsExpiredEntries(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := NewMemory(1 << 20)
	m.now = clock.Now
	_ = m.Set(ctx, "k", bodyEntry(500), 10*time.Second)
	clock.Advance(10*time.Second - 1)
	if _, err := m.Get(ctx, "k"); err != nil {
		t.Fatalf("Get 1ns before expiry: %v, want the entry", err)
	}
	clock.Advance(1)
	if _, err := m.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get at expiry: err %v, want ErrNotFound", err)
	}
	if m.Len() != 0 || m.Bytes() != 0 {
		t.Errorf("after an expired Get: Len, Bytes = %d, %d; want 0, 0 (dropped)", m.Len(), m.Bytes())
	}
	_ = m.Set(ctx, "k", bodyEntry(500), 0)
	if m.Len() != 0 {
		t.Errorf("Set with ttl 0 stored the entry; want it not stored")
	}
}

func TestMemoryDoesNotStoreOversizeEntries(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(10 << 10)
	small := bodyEntry(1 << 10)
	_ = m.Set(ctx, "k", small, time.Minute)
	_ = m.Set(ctx, "other", small, time.Minute)
	if err := m.Set(ctx, "k", bodyEntry(10<<10+1), time.Minute); err != nil {
		t.Fatalf("Set of an oversize entry: %v, want nil", err)
	}
	if _, err := m.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after an oversize Set: err %v, want ErrNotFound (not stored, previous entry dropped)", err)
	}
	if _, err := m.Get(ctx, "other"); err != nil {
		t.Errorf("an oversize Set evicted another entry: %v", err)
	}
	if err := m.Set(ctx, "k", bodyEntry(10<<10), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(ctx, "k"); err != nil {
		t.Errorf("an entry of exactly maxBytes was not stored: %v", err)
	}
}

func BenchmarkMemoryGetParallel(b *testing.B) {
	ctx := context.Background()
	m := NewMemory(256 << 20)
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = fmt.Sprintf("%064x", i)
		_ = m.Set(ctx, keys[i], bodyEntry(4096), time.Hour)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(keys))
		for pb.Next() {
			if _, err := m.Get(ctx, keys[i%len(keys)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func TestMemoryCountsEvictionsBySizeAndByExpiryButNotDeletes(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := bodyEntry(1000)
	m := NewMemory(2 * e.Size())
	m.now = clock.Now
	for _, k := range []string{"a", "b", "c", "d"} { // c evicts a, d evicts b
		_ = m.Set(ctx, k, e, time.Minute)
	}
	_ = m.Set(ctx, "d", e, time.Minute) // a replacement, no eviction
	_ = m.Delete(ctx, "d")              // a delete, no eviction
	clock.Advance(time.Minute)
	_, _ = m.Get(ctx, "c") // expired
	if size, expired := m.Evictions(); size != 2 || expired != 1 {
		t.Errorf("Evictions() = %d by size, %d expired; want 2 and 1", size, expired)
	}
	if m.MaxBytes() != 2*e.Size() {
		t.Errorf("MaxBytes() = %d, want %d", m.MaxBytes(), 2*e.Size())
	}
}
