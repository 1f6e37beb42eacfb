package main

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

func TestFloorPercentSetsTheNextGoalAtTheFloorNeverBelowGOGC(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		floor, live int64
		base, want  int
	}{
		{64 * mib, 3 * mib, 100, 2033},   // 3 MiB * 21.33 = 64 MiB
		{64 * mib, 32 * mib, 100, 100},   // GOGC's goal is the floor already
		{64 * mib, 200 * mib, 100, 100},  // a full memory store: GOGC's
		{64 * mib, 20 * mib, 400, 400},   // GOGC=400's goal is above the floor
		{64 * mib, 0, 100, 6300},         // just started: counted as 1 MiB
		{64 * mib, 512 << 10, 100, 6300}, // likewise
	} {
		if got := floorPercent(c.floor, c.live, c.base); got != c.want {
			t.Errorf("floorPercent(floor %d MiB, live %d B, GOGC %d) = %d, want %d", c.floor/mib, c.live, c.base, got, c.want)
		}
	}
}

// collectionsDuring is the number of collections while 48 MiB of 16 KiB
// buffers, each dropped at once, are allocated (a Redis store's replies).
func collectionsDuring() uint32 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 48 << 6 {
		b := make([]byte, 16<<10)
		b[0] = 1
		sink = b
	}
	sink = nil
	runtime.ReadMemStats(&after)
	return after.NumGC - before.NumGC
}

var sink []byte

// percentSet is the GC percentage h set last.
func percentSet(h *heapFloor) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.percent
}

func TestTheHeapFloorLetsTheHeapGrowToItBeforeACollection(t *testing.T) {
	runtime.GC()
	without := collectionsDuring()
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	h := startHeapFloor(128 << 20)
	if h == nil {
		t.Fatal("startHeapFloor(128 MiB) = nil with GOGC on")
	}
	defer h.Stop()
	runtime.GC() // the floor is set for the live heap this leaves
	testutil.Eventually(t, 10*time.Second, "the GC percentage raised", func() bool { return percentSet(h) > base })
	if with := collectionsDuring(); with > 1 {
		t.Errorf("%d collections while 48 MiB were allocated and dropped under a 128 MiB floor, want at most 1 (%d without the floor)", with, without)
	}
}

func TestTheHeapFloorStepsAsideOnceTheLiveHeapIsAboveHalfOfItAndStopRestoresGOGC(t *testing.T) {
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	h := startHeapFloor(64 << 20)
	defer h.Stop()
	runtime.GC()
	testutil.Eventually(t, 10*time.Second, "the GC percentage raised", func() bool { return percentSet(h) > base })
	live := make([][]byte, 40)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	runtime.GC()
	testutil.Eventually(t, 10*time.Second, "the GC percentage back at GOGC's with 40 MiB live", func() bool { return percentSet(h) == base })
	runtime.KeepAlive(live)
	h.Stop()
	if got := debug.SetGCPercent(base); got != base {
		t.Errorf("GC percentage after Stop = %d, want GOGC's %d", got, base)
	}
}

func TestNoHeapFloorWhenGOGCIsOffOrTheFloorZero(t *testing.T) {
	if h := startHeapFloor(0); h != nil {
		h.Stop()
		t.Error("startHeapFloor(0) kept a floor")
	}
	prev := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(prev)
	if h := startHeapFloor(64 << 20); h != nil {
		h.Stop()
		t.Error("startHeapFloor with GOGC=off kept a floor")
	}
}
