package store

import (
	"hash/maphash"
	"math/bits"
	"sync/atomic"
)

// admission decides which entries read from L2 may enter L1, so that keys
// requested once ("one-hit wonders") do not evict the ones that are
// requested again. It is the frequency filter of TinyLFU (Einziger,
// Friedman, Manes, "TinyLFU: A Highly Efficient Cache Admission Policy",
// 2017) reduced to a threshold: a doorkeeper (a Bloom filter) remembers the
// keys seen once in the current window, and a count-min sketch of 4-bit
// counters counts the sightings after the first. A key is admitted when it
// has been seen before: its doorkeeper bit is set or its sketch count is
// above zero.
//
// Every window sightings the filter ages: the doorkeeper is cleared and
// every counter halved, so a key seen once in the last window is forgotten
// while a key seen several times is still admitted on its first request of
// the next window.
//
// All state is in words updated with atomic operations: record takes no
// lock and allocates nothing. Aging runs in the goroutine whose sighting
// closes the window and races benignly with concurrent sightings (each
// word is updated atomically; a count may be lost or halved once more).
//
// It is hand-written because the libraries that implement TinyLFU
// (ristretto, otter) offer it only inside their own cache, not as a filter
// in front of another store; this one is the filter alone.
type admission struct {
	seed maphash.Seed

	// door holds the doorkeeper's bits; doorMask is their count less one.
	door     []atomic.Uint64
	doorMask uint64

	// sketch holds sketchRows rows of rowMask+1 counters, 16 to a word.
	sketch   []atomic.Uint64
	rowMask  uint64
	rowWords uint64

	// window is the number of sightings between two agings; seen counts
	// them.
	window uint64
	seen   atomic.Uint64
}

const (
	// sketchRows is the depth of the count-min sketch.
	sketchRows = 4
	// counterMax is the largest value of a 4-bit counter.
	counterMax = 15
	// halveMask keeps the low three bits of every counter after a shift.
	halveMask = 0x7777_7777_7777_7777
	// minAdmissionCapacity and maxAdmissionCapacity bound the number of
	// keys the filter is sized for.
	minAdmissionCapacity = 64
	maxAdmissionCapacity = 1 << 20
)

// newAdmission returns a filter sized for about capacity keys: a window of
// 10 sightings a key (as TinyLFU recommends), capacity counters a sketch
// row and 4 doorkeeper bits a sighting of the window.
func newAdmission(capacity int) *admission {
	c := uint64(min(max(capacity, minAdmissionCapacity), maxAdmissionCapacity))
	c = 1 << bits.Len64(c-1) // the next power of two
	window := 10 * c
	doorBits := uint64(1) << bits.Len64(4*window-1)
	return &admission{
		seed:     maphash.MakeSeed(),
		door:     make([]atomic.Uint64, doorBits/64),
		doorMask: doorBits - 1,
		sketch:   make([]atomic.Uint64, sketchRows*c/16),
		rowMask:  c - 1,
		rowWords: c / 16,
		window:   window,
	}
}

// record notes one request for key and reports whether key had been
// requested before within the filter's memory (this is at least its
// second request).
func (a *admission) record(key string) bool {
	h := maphash.String(a.seed, key)
	before := a.doorkeep(h)
	admit := before || a.estimate(h) > 0
	if before {
		a.increment(h)
	}
	if a.seen.Add(1)%a.window == 0 {
		a.age()
	}
	return admit
}

// doorkeep sets the doorkeeper bits of h and reports whether all were set
// already. A bit is read before it is written, so hot keys do not bounce a
// written cache line between cores.
func (a *admission) doorkeep(h uint64) bool {
	d := h * 0x9E37_79B9_7F4A_7C15 // another mix of h than the sketch's
	all := true
	for _, p := range [2]uint64{d & a.doorMask, (d >> 32) & a.doorMask} {
		w, bit := &a.door[p/64], uint64(1)<<(p%64)
		if w.Load()&bit == 0 {
			w.Or(bit)
			all = false
		}
	}
	return all
}

// counter returns the word and bit offset of h's counter in row r, by
// double hashing on the two halves of h.
func (a *admission) counter(h uint64, r uint64) (*atomic.Uint64, uint64) {
	i := (h + r*(h>>32|1)) & a.rowMask
	return &a.sketch[r*a.rowWords+i/16], (i % 16) * 4
}

// estimate returns the smallest of h's counters.
func (a *admission) estimate(h uint64) uint64 {
	n := uint64(counterMax)
	for r := range uint64(sketchRows) {
		w, shift := a.counter(h, r)
		n = min(n, w.Load()>>shift&counterMax)
	}
	return n
}

// increment adds one to each of h's counters that is below counterMax.
func (a *admission) increment(h uint64) {
	for r := range uint64(sketchRows) {
		w, shift := a.counter(h, r)
		for {
			old := w.Load()
			if old>>shift&counterMax == counterMax || w.CompareAndSwap(old, old+1<<shift) {
				break
			}
		}
	}
}

// age clears the doorkeeper and halves every counter.
func (a *admission) age() {
	for i := range a.door {
		a.door[i].Store(0)
	}
	for i := range a.sketch {
		w := &a.sketch[i]
		for {
			old := w.Load()
			if w.CompareAndSwap(old, old>>1&halveMask) {
				break
			}
		}
	}
}
