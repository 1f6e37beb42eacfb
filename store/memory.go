package store

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// Memory is an in-process Store bounded by bytes: entries are accounted by
// Entry.Size and the least recently used are evicted to make room. Keys
// are spread over shards, each with its own lock, LRU list and an equal
// share of the bound, so Bytes never exceeds the bound at any moment, even
// under concurrent Sets.
//
// Get returns the very pointer Set was given: entries are immutable once
// stored.
type Memory struct {
	shards   []memShard
	seed     maphash.Seed
	maxBytes int64
	// now is the clock TTLs are measured against (replaced in tests).
	now func() time.Time
}

// minShardBytes is the smallest share of the bound a shard gets: fewer,
// larger shards keep big entries storable in a small store (an entry must
// fit in its shard) and LRU order closer to global.
const minShardBytes = 16 << 20

// maxShards bounds the shards of a large store.
const maxShards = 16

// memShard is one lock's worth of a Memory: a map and an LRU list whose
// front is the most recently used item.
type memShard struct {
	mu       sync.Mutex
	items    map[string]*memItem
	lru      memItem // sentinel: lru.next is the most recent, lru.prev the least
	maxBytes int64
	bytes    atomic.Int64
	len      atomic.Int64
}

// memItem is one stored entry in its shard's LRU list.
type memItem struct {
	key        string
	entry      *Entry
	size       int64
	expires    time.Time
	prev, next *memItem
}

// NewMemory returns a Memory that holds at most maxBytes bytes of entries
// (as counted by Entry.Size). It uses up to 16 shards of at least 16MiB
// each; an entry larger than a shard's share (maxBytes when the store has
// one shard) is not stored.
func NewMemory(maxBytes int64) *Memory {
	n := 1
	for n < maxShards && maxBytes/int64(2*n) >= minShardBytes {
		n *= 2
	}
	return newMemory(maxBytes, n)
}

// newMemory returns a Memory of n shards, each bounded by maxBytes/n.
func newMemory(maxBytes int64, n int) *Memory {
	m := &Memory{
		shards:   make([]memShard, n),
		seed:     maphash.MakeSeed(),
		maxBytes: maxBytes,
		now:      time.Now,
	}
	for i := range m.shards {
		s := &m.shards[i]
		s.items = make(map[string]*memItem)
		s.lru.next, s.lru.prev = &s.lru, &s.lru
		s.maxBytes = maxBytes / int64(n)
	}
	return m
}

func (m *Memory) shard(key string) *memShard {
	if len(m.shards) == 1 {
		return &m.shards[0]
	}
	return &m.shards[maphash.String(m.seed, key)%uint64(len(m.shards))]
}

// Get returns the entry stored under key, or ErrNotFound when there is none
// or it has expired (an expired entry is dropped). A hit makes the entry the
// most recently used.
func (m *Memory) Get(_ context.Context, key string) (*Entry, error) {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[key]
	if !ok {
		return nil, ErrNotFound
	}
	if !m.now().Before(it.expires) {
		s.remove(it)
		return nil, ErrNotFound
	}
	s.unlink(it)
	s.pushFront(it)
	return it.entry, nil
}

// Set stores e under key for ttl, replacing what was stored there, and
// evicts the least recently used entries of the key's shard to make room.
// When ttl <= 0 or e is larger than the shard's share of the bound, e is
// not stored (and the previous entry under key is dropped); that is no
// error.
func (m *Memory) Set(_ context.Context, key string, e *Entry, ttl time.Duration) error {
	size := e.Size()
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.items[key]; ok {
		s.remove(old)
	}
	if ttl <= 0 || size > s.maxBytes {
		return nil
	}
	for s.bytes.Load()+size > s.maxBytes {
		s.remove(s.lru.prev)
	}
	it := &memItem{key: key, entry: e, size: size, expires: m.now().Add(ttl)}
	s.items[key] = it
	s.pushFront(it)
	s.bytes.Add(size)
	s.len.Add(1)
	return nil
}

// Delete removes the entries stored under keys.
func (m *Memory) Delete(_ context.Context, keys ...string) error {
	for _, key := range keys {
		s := m.shard(key)
		s.mu.Lock()
		if it, ok := s.items[key]; ok {
			s.remove(it)
		}
		s.mu.Unlock()
	}
	return nil
}

// Close drops every entry.
func (m *Memory) Close() error {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for s.lru.prev != &s.lru {
			s.remove(s.lru.prev)
		}
		s.mu.Unlock()
	}
	return nil
}

// Bytes returns the bytes the stored entries account for (the sum of their
// Entry.Size), never more than the bound given to NewMemory.
func (m *Memory) Bytes() int64 {
	var n int64
	for i := range m.shards {
		n += m.shards[i].bytes.Load()
	}
	return n
}

// Len returns the number of stored entries, expired ones not yet dropped
// included.
func (m *Memory) Len() int {
	var n int64
	for i := range m.shards {
		n += m.shards[i].len.Load()
	}
	return int(n)
}

// remove drops it from the shard; s.mu is held.
func (s *memShard) remove(it *memItem) {
	s.unlink(it)
	delete(s.items, it.key)
	s.bytes.Add(-it.size)
	s.len.Add(-1)
}

func (s *memShard) unlink(it *memItem) {
	it.prev.next = it.next
	it.next.prev = it.prev
	it.prev, it.next = nil, nil
}

func (s *memShard) pushFront(it *memItem) {
	it.prev = &s.lru
	it.next = s.lru.next
	s.lru.next.prev = it
	s.lru.next = it
}
