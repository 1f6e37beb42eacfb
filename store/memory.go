package store

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Memory is an in-process Store bounded by bytes: entries are accounted by
// Entry.Size and the least recently used are evicted to make room, so
// Bytes never exceeds the bound at any moment, even under concurrent Sets.
//
// One mutex guards the whole store. Sharding by key was measured
// (BenchmarkMemoryGetParallel, 2 cores): 16 shards were no faster than one
// lock at 1 and 8 goroutines and half as fast at 2, since every Get writes
// the LRU list and the cache lines it touches then bounce between cores;
// one lock also keeps the LRU order exact and lets any entry up to the
// bound be stored.
//
// Get returns the very pointer Set was given: entries are immutable once
// stored.
//
// The LRU is written here rather than taken from a library because none
// fits better: hashicorp/golang-lru and groupcache's lru bound the number
// of entries, not their bytes; cost-bounded caches (ristretto, otter) bring
// their own admission and eviction policies and ristretto applies a Set
// asynchronously, while the tiered store needs a Set seen by the next Get,
// an exact byte bound at every moment and its own admission filter
// (admission.go) in front of L1 only.
type Memory struct {
	maxBytes int64
	// now is the clock TTLs are measured against (replaced in tests).
	now func() time.Time

	mu    sync.Mutex
	items map[string]*memItem
	lru   memItem // sentinel: lru.next is the most recently used, lru.prev the least
	bytes atomic.Int64
	len   atomic.Int64
	// evicted counts the entries dropped to make room (the LRU), expired
	// those dropped because a read found them expired: the evictions the
	// metrics tell apart.
	evicted, expired atomic.Uint64
}

// memItem is one stored entry in the LRU list.
type memItem struct {
	key        string
	entry      *Entry
	size       int64
	expires    time.Time
	prev, next *memItem
}

// NewMemory returns a Memory that holds at most maxBytes bytes of entries
// (as counted by Entry.Size); an entry larger than maxBytes is not stored.
func NewMemory(maxBytes int64) *Memory {
	m := &Memory{
		maxBytes: maxBytes,
		now:      time.Now,
		items:    make(map[string]*memItem),
	}
	m.lru.next, m.lru.prev = &m.lru, &m.lru
	return m
}

// Get returns the entry stored under key, or ErrNotFound when there is none
// or it has expired (an expired entry is dropped). A hit makes the entry the
// most recently used.
func (m *Memory) Get(_ context.Context, key string) (*Entry, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[key]
	if !ok {
		return nil, ErrNotFound
	}
	if !now.Before(it.expires) {
		m.remove(it)
		m.expired.Add(1)
		return nil, ErrNotFound
	}
	m.unlink(it)
	m.pushFront(it)
	return it.entry, nil
}

// Set stores e under key for ttl, replacing what was stored there, and
// evicts the least recently used entries to make room. When ttl <= 0 or e
// is larger than the bound, e is not stored (and the previous entry under
// key is dropped); that is no error.
func (m *Memory) Set(_ context.Context, key string, e *Entry, ttl time.Duration) error {
	size, expires := e.Size(), m.now().Add(ttl)
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.items[key]; ok {
		m.remove(old)
	}
	if ttl <= 0 || size > m.maxBytes {
		return nil
	}
	for m.bytes.Load()+size > m.maxBytes {
		m.remove(m.lru.prev)
		m.evicted.Add(1)
	}
	it := &memItem{key: key, entry: e, size: size, expires: expires}
	m.items[key] = it
	m.pushFront(it)
	m.bytes.Add(size)
	m.len.Add(1)
	return nil
}

// Delete removes the entries stored under keys.
func (m *Memory) Delete(_ context.Context, keys ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, key := range keys {
		if it, ok := m.items[key]; ok {
			m.remove(it)
		}
	}
	return nil
}

// Close drops every entry.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.lru.prev != &m.lru {
		m.remove(m.lru.prev)
	}
	return nil
}

// Bytes returns the bytes the stored entries account for (the sum of their
// Entry.Size), never more than the bound given to NewMemory.
func (m *Memory) Bytes() int64 { return m.bytes.Load() }

// MaxBytes returns the bound given to NewMemory: the store's capacity.
func (m *Memory) MaxBytes() int64 { return m.maxBytes }

// Evictions returns how many entries were dropped since NewMemory to make
// room for others (the least recently used first), and how many because a
// read found them expired. Deletes (purges, replacements) are neither.
func (m *Memory) Evictions() (size, expired uint64) {
	return m.evicted.Load(), m.expired.Load()
}

// Len returns the number of stored entries, expired ones not yet dropped
// included.
func (m *Memory) Len() int { return int(m.len.Load()) }

// remove drops it from the store; m.mu is held.
func (m *Memory) remove(it *memItem) {
	m.unlink(it)
	delete(m.items, it.key)
	m.bytes.Add(-it.size)
	m.len.Add(-1)
}

func (m *Memory) unlink(it *memItem) {
	it.prev.next = it.next
	it.next.prev = it.prev
	it.prev, it.next = nil, nil
}

func (m *Memory) pushFront(it *memItem) {
	it.prev = &m.lru
	it.next = m.lru.next
	m.lru.next.prev = it
	m.lru.next = it
}
