package certs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

func TestMain(m *testing.M) { testutil.MainWithRedis(m) }

func newTestStorage(t *testing.T) *RedisStorage {
	t.Helper()
	// The test's name, not a unique prefix: a test's storages share their
	// keys, as two instances do.
	return NewRedisStorage(testutil.RedisClient(t), t.Name(), testutil.DiscardLogger())
}

func TestRedisStorageLoadReturnsWhatStoreWrote(t *testing.T) {
	s, ctx := newTestStorage(t), context.Background()
	for _, v := range [][]byte{[]byte("first"), {0, 1, 2, 255}, []byte("second, overwriting")} {
		if err := s.Store(ctx, "certificates/ca/example.com/example.com.crt", v); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load(ctx, "certificates/ca/example.com/example.com.crt")
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("Load after Store(%q) = %q, %v; want the same bytes", v, got, err)
		}
	}
}

func TestRedisStorageMissingKeysAreNotExist(t *testing.T) {
	s, ctx := newTestStorage(t), context.Background()
	if _, err := s.Load(ctx, "nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing key: err %v, want one wrapping fs.ErrNotExist", err)
	}
	if _, err := s.Stat(ctx, "nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a missing key: err %v, want one wrapping fs.ErrNotExist", err)
	}
	if _, err := s.List(ctx, "nope", true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List of a missing directory: err %v, want one wrapping fs.ErrNotExist", err)
	}
	if s.Exists(ctx, "nope") {
		t.Errorf("Exists of a missing key = true, want false")
	}
	if err := s.Delete(ctx, "nope"); err != nil {
		t.Errorf("Delete of a missing key: %v, want nil", err)
	}
}

func TestRedisStorageExistsStatListDelete(t *testing.T) {
	s, ctx := newTestStorage(t), context.Background()
	before := time.Now().Add(-time.Second)
	for _, k := range []string{"a/b/c.crt", "a/b/c.key", "a/d.json", "e.json"} {
		if err := s.Store(ctx, k, []byte("value of "+k)); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"a", "a/b", "a/b/c.crt", "e.json"} {
		if !s.Exists(ctx, k) {
			t.Errorf("Exists(%q) = false, want true", k)
		}
	}
	info, err := s.Stat(ctx, "a/b/c.crt")
	if err != nil || !info.IsTerminal || info.Size != int64(len("value of a/b/c.crt")) || info.Modified.Before(before) {
		t.Errorf("Stat(a/b/c.crt) = %+v, %v; want terminal, size %d, modified now", info, err, len("value of a/b/c.crt"))
	}
	if info, err := s.Stat(ctx, "a/b"); err != nil || info.IsTerminal {
		t.Errorf("Stat(a/b) = %+v, %v; want a directory (not terminal)", info, err)
	}
	lists := []struct {
		dir       string
		recursive bool
		want      []string
	}{
		{"a", false, []string{"a/b", "a/d.json"}},
		{"a", true, []string{"a/b", "a/b/c.crt", "a/b/c.key", "a/d.json"}},
		{"", false, []string{"a", "e.json"}},
	}
	for _, l := range lists {
		got, err := s.List(ctx, l.dir, l.recursive)
		slices.Sort(got)
		if err != nil || !slices.Equal(got, l.want) {
			t.Errorf("List(%q, %v) = %q, %v; want %q", l.dir, l.recursive, got, err, l.want)
		}
	}
	if err := s.Delete(ctx, "a/b"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a/b", "a/b/c.crt", "a/b/c.key"} {
		if s.Exists(ctx, k) {
			t.Errorf("Exists(%q) after Delete(a/b) = true, want false", k)
		}
	}
	if got, err := s.List(ctx, "", true); err != nil || !slices.Equal(got, []string{"a", "a/d.json", "e.json"}) {
		t.Errorf("List(\"\", true) after Delete(a/b) = %q, %v; want [a a/d.json e.json]", got, err)
	}
}

func TestRedisStorageLockBlocksAnotherHolderUntilUnlock(t *testing.T) {
	one, other := newTestStorage(t), newTestStorage(t) // two instances, same keys
	ctx := context.Background()
	if err := one.Lock(ctx, "issue_cert_example.com"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := other.Lock(short, "issue_cert_example.com"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock of a held lock: err %v, want it to block until the context ends", err)
	}
	got := make(chan error, 1)
	go func() { got <- other.Lock(ctx, "issue_cert_example.com") }()
	select {
	case err := <-got:
		t.Fatalf("Lock of a held lock returned %v before Unlock", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := one.Unlock(ctx, "issue_cert_example.com"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("Lock after Unlock: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Lock still blocked 2s after Unlock")
	}
	if err := other.Unlock(ctx, "issue_cert_example.com"); err != nil {
		t.Fatal(err)
	}
	if err := other.Unlock(ctx, "issue_cert_example.com"); err == nil {
		t.Error("Unlock of a lock not held: no error, want one")
	}
}

func TestRedisStorageKeepsAHeldLockAliveBeyondItsTTL(t *testing.T) {
	s, ctx := newTestStorage(t), context.Background()
	// Long enough that a loaded machine (2 cores, -race, other packages
	// testing) still renews in time: 600ms missed a renewal under load.
	s.lockTTL = 1500 * time.Millisecond // renewed every 500ms
	if err := s.Lock(ctx, "renew"); err != nil {
		t.Fatal(err)
	}
	// Four renewals span more than one TTL: without them the lock would
	// have expired. Each one shows as the key's remaining time going up.
	renewals, last := 0, s.lockTTL
	testutil.Until(t, 10*time.Second, "four renewals of the held lock", func() error {
		ttl, err := s.c.PTTL(ctx, s.lockKey("renew")).Result()
		if err != nil || ttl <= 0 {
			t.Fatalf("after %d renewals the held lock is gone (TTL %v, %v); want it kept alive", renewals, ttl, err)
		}
		if ttl > last {
			renewals++
		}
		last = ttl
		if renewals < 4 {
			return fmt.Errorf("%d renewals", renewals)
		}
		return nil
	})
	if err := s.Unlock(ctx, "renew"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.c.Exists(ctx, s.lockKey("renew")).Result(); n != 0 {
		t.Error("lock key still there after Unlock")
	}
}

func TestRedisStorageUnlockAfterTheLockExpiredLeavesTheNextHoldersLock(t *testing.T) {
	stalled, next := newTestStorage(t), newTestStorage(t) // two instances, same keys
	ctx := context.Background()
	stalled.lockTTL = time.Hour // its renewals never run before the expiry below
	if err := stalled.Lock(ctx, "issue"); err != nil {
		t.Fatal(err)
	}
	// The holder stalls past its TTL: the lock expires while held.
	stalled.c.PExpire(ctx, stalled.lockKey("issue"), time.Millisecond)
	if err := next.Lock(ctx, "issue"); err != nil {
		t.Fatal(err)
	}
	if err := stalled.Unlock(ctx, "issue"); err != nil {
		t.Fatal(err)
	}
	if n, _ := next.c.Exists(ctx, next.lockKey("issue")).Result(); n != 1 {
		t.Error("the stalled holder's Unlock deleted the lock the next holder took")
	}
	if err := next.Unlock(ctx, "issue"); err != nil {
		t.Fatal(err)
	}
}
