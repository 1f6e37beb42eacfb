package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// heapFloor lets the heap grow to at least floor bytes before the garbage
// collector runs (gc.heap_floor). Go starts a collection when the heap
// reaches the live heap times 1+GOGC/100: with the Redis store the live
// heap is 3 MB, so the 16 KiB that go-redis allocates for each hit's reply
// triggered a collection every 6 MB, 110 a second at 13k hits/s, a
// quarter of the process's CPU. After each collection heapFloor raises the
// GC percentage just enough that the next goal is floor, and never lowers
// it below the one the process started with (GOGC), so a live heap above
// floor/2 is collected as Go would. GOMEMLIMIT still caps the heap; GOGC=off
// leaves the collector alone.
//
// Runtime knobs offer no floor: GOMEMLIMIT is a ceiling and GOGC is
// proportional (GOGC=400 on a 3 MB heap collects every 15 MB; on a full
// memory store it would let the heap grow to five times the store). A
// ballast (a large unused allocation) would show in every heap metric.
type heapFloor struct {
	floor int64
	base  int // the GC percentage the process started with
	live  []metrics.Sample

	mu      sync.Mutex
	stopped bool
	percent int // last set
}

// startHeapFloor starts keeping a heap floor of floor bytes; nil when
// floor is 0 or GOGC is off. Stop undoes it.
func startHeapFloor(floor int64) *heapFloor {
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	if floor <= 0 || base < 0 {
		return nil
	}
	h := &heapFloor{floor: floor, base: base, percent: base,
		live: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	h.adjust()
	h.arm()
	return h
}

// arm has adjust run after the next collection: a cleanup runs once its
// object has been found unreachable, which takes a collection. The object
// is 16 bytes so the tiny allocator does not share its block.
func (h *heapFloor) arm() {
	runtime.AddCleanup(new([16]byte), func(h *heapFloor) {
		if h.adjust() {
			h.arm()
		}
	}, h)
}

// adjust sets the GC percentage for the live heap the last collection
// left; it reports false once stopped.
func (h *heapFloor) adjust() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return false
	}
	metrics.Read(h.live)
	p := h.base
	if h.live[0].Value.Kind() == metrics.KindUint64 {
		p = floorPercent(h.floor, int64(h.live[0].Value.Uint64()), h.base)
	}
	if p != h.percent {
		debug.SetGCPercent(p)
		h.percent = p
	}
	return true
}

// floorPercent is the GC percentage whose heap goal for a live heap of
// live bytes is floor, or base when base's goal is already higher.
func floorPercent(floor, live int64, base int) int {
	// Below 1 MiB the live heap is a process that has just started:
	// treating it as 1 MiB bounds the percentage.
	live = max(live, 1<<20)
	if p := floor*100/live - 100; p > int64(base) {
		return int(p)
	}
	return base
}

// Stop restores the GC percentage the process started with.
func (h *heapFloor) Stop() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	debug.SetGCPercent(h.base)
}
