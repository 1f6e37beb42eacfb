package main

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testutil"
)

// currentMemoryLimit reads the runtime's limit without changing it and
// restores the one before the test when it ends.
func currentMemoryLimit(t *testing.T) int64 {
	t.Helper()
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	return before
}

func TestTheHeapLimitFollowsTheStoresBound(t *testing.T) {
	for _, backend := range []string{"memory", "tiered"} {
		currentMemoryLimit(t)
		debug.SetMemoryLimit(math.MaxInt64)
		cfg := config.Default()
		cfg.Store.Backend = backend
		cfg.Store.Memory.MaxBytes = 128 << 20
		setMemoryLimit(cfg, testutil.DiscardLogger())
		if got, want := debug.SetMemoryLimit(-1), int64(128<<20+64<<20+64<<20); got != want {
			t.Errorf("%s store of 128 MiB: heap limit %d, want %d", backend, got, want)
		}
	}
}

func TestTheHeapLimitIsTheOperatorsWhenGOMEMLIMITIsSetOrNothingIsStoredInProcess(t *testing.T) {
	currentMemoryLimit(t)
	debug.SetMemoryLimit(math.MaxInt64)
	cfg := config.Default()
	cfg.Store.Backend = "redis"
	setMemoryLimit(cfg, testutil.DiscardLogger())
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("redis store: heap limit %d, want none", got)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	cfg.Store.Backend = "memory"
	setMemoryLimit(cfg, testutil.DiscardLogger())
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set: heap limit %d, want the operator's (unchanged)", got)
	}
}
