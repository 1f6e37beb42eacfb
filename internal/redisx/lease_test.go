package redisx

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestALeaseIsHeldByOneHolderAtATime(t *testing.T) {
	c, ctx, key := client(t, server.Addr()), context.Background(), uniqueKey(t)
	first, err := TryLease(ctx, c, key, time.Minute)
	if err != nil || first == nil {
		t.Fatalf("the first TryLease: %v, %v; want the lease", first, err)
	}
	if second, err := TryLease(ctx, c, key, time.Minute); err != nil || second != nil {
		t.Fatalf("TryLease of a held lease: %v, %v; want no lease and no error", second, err)
	}
	if ok, err := first.Release(ctx); !ok || err != nil {
		t.Fatalf("the holder's Release: %v, %v; want true", ok, err)
	}
	if again, err := TryLease(ctx, c, key, time.Minute); err != nil || again == nil {
		t.Fatalf("TryLease after the release: %v, %v; want the lease", again, err)
	}
}

func TestAHolderWhoseLeaseExpiredNeitherReleasesNorRenewsTheNextHolders(t *testing.T) {
	c, ctx, key := client(t, server.Addr()), context.Background(), uniqueKey(t)
	first, err := TryLease(ctx, c, key, 20*time.Millisecond)
	if err != nil || first == nil {
		t.Fatalf("TryLease: %v, %v", first, err)
	}
	// The first holder stalls past its TTL; the lease expires while held.
	eventually(t, "the lease expires", func() bool { return c.Exists(ctx, key).Val() == 0 })
	second, err := TryLease(ctx, c, key, time.Minute)
	if err != nil || second == nil {
		t.Fatalf("TryLease after the expiry: %v, %v; want the lease", second, err)
	}
	if ok, err := first.Release(ctx); ok || err != nil {
		t.Errorf("the first holder's late Release: %v, %v; want false, nil", ok, err)
	}
	if ok, err := first.ReleaseAs(ctx, "pass", time.Minute); ok || err != nil {
		t.Errorf("the first holder's late ReleaseAs: %v, %v; want false, nil", ok, err)
	}
	if err := first.Renew(ctx, time.Hour); !errors.Is(err, ErrLost) {
		t.Errorf("the first holder's late Renew: %v; want ErrLost", err)
	}
	if v, ttl := c.Get(ctx, key).Val(), c.PTTL(ctx, key).Val(); v != second.token || ttl > time.Minute {
		t.Errorf("after the first holder's late calls the key holds %q for %v; want the second holder's token %q for at most 1m", v, ttl, second.token)
	}
	if ok, err := second.Release(ctx); !ok || err != nil {
		t.Errorf("the second holder's Release: %v, %v; want true", ok, err)
	}
}

func TestRenewKeepsALeasePastItsTTL(t *testing.T) {
	c, ctx, key := client(t, server.Addr()), context.Background(), uniqueKey(t)
	l, err := TryLease(ctx, c, key, time.Second)
	if err != nil || l == nil {
		t.Fatalf("TryLease: %v, %v", l, err)
	}
	if err := l.Renew(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if ttl := c.PTTL(ctx, key).Val(); ttl <= time.Second {
		t.Errorf("after Renew(1h) the lease expires in %v; want more than its first TTL of 1s", ttl)
	}
}

func TestReleaseAsLeavesTheMarkerForItsTTL(t *testing.T) {
	c, ctx, key := client(t, server.Addr()), context.Background(), uniqueKey(t)
	l, err := TryLease(ctx, c, key, time.Minute)
	if err != nil || l == nil {
		t.Fatalf("TryLease: %v, %v", l, err)
	}
	if _, err := l.ReleaseAs(ctx, "pass", 0); err == nil {
		t.Error("ReleaseAs with a zero TTL: no error; want one (Redis would refuse PX 0)")
	}
	if ok, err := l.ReleaseAs(ctx, "pass", 30*time.Second); !ok || err != nil {
		t.Fatalf("ReleaseAs: %v, %v; want true", ok, err)
	}
	if v, ttl := c.Get(ctx, key).Val(), c.PTTL(ctx, key).Val(); v != "pass" || ttl <= 0 || ttl > 30*time.Second {
		t.Errorf("after ReleaseAs the key holds %q for %v; want \"pass\" for at most 30s", v, ttl)
	}
	if again, err := TryLease(ctx, c, key, time.Minute); err != nil || again != nil {
		t.Errorf("TryLease while the marker lasts: %v, %v; want no lease", again, err)
	}
}

func TestASharedLeaseLastsUntilItsLastHolderReleasesAndExpires(t *testing.T) {
	c, ctx, key := client(t, server.Addr()), context.Background(), uniqueKey(t)
	one, err := TakeShared(ctx, c, key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	two, err := TakeShared(ctx, c, key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if ttl := c.PTTL(ctx, key).Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("a shared lease expires in %v; want at most its TTL of 1m (a dead holder must not keep it)", ttl)
	}
	if err := one.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Exists(ctx, key).Val() != 1 {
		t.Error("one holder's release removed the key another holder still holds")
	}
	if err := two.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Exists(ctx, key).Val() != 0 {
		t.Error("the key is still there after its last holder released it")
	}
}

func TestALeaseThatWouldNeverExpireIsRefused(t *testing.T) {
	c, ctx, key := client(t, server.Addr()), context.Background(), uniqueKey(t)
	if l, err := TryLease(ctx, c, key, 0); err == nil || l != nil {
		t.Errorf("TryLease with a zero TTL: %v, %v; want an error", l, err)
	}
	if n := c.Exists(ctx, key).Val(); n != 0 {
		t.Error("a refused lease left its key in Redis without an expiry")
	}
	l, err := TryLease(ctx, c, key, time.Minute)
	if err != nil || l == nil {
		t.Fatalf("TryLease: %v, %v", l, err)
	}
	if err := l.Renew(ctx, 0); err == nil || errors.Is(err, ErrLost) {
		t.Errorf("Renew with a zero TTL: %v; want a refusal (PEXPIRE 0 would delete the lease)", err)
	}
	if n := c.Exists(ctx, key).Val(); n != 1 {
		t.Error("a refused Renew deleted the lease")
	}
}
