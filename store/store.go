package store

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// ErrNotFound is returned by Get when no entry is stored under the key.
var ErrNotFound = errors.New("store: not found")

// Entry is one stored response, or a Vary marker that tells which request
// headers select among the variants stored for one primary key.
//
// An Entry is immutable once handed to Set: stores may keep and share the
// pointer (the memory store does), so callers copy before changing it.
type Entry struct {
	// Key is the readable normalized key (for inspection, never for lookup).
	Key string
	// Route is the name of the route that stored the entry.
	Route string
	// Host is the normalized host of the request (a purge scope).
	Host string
	// URL is the entry's URL without scheme, as policy.Key.URL gives it:
	// the host (with a port other than the default), the path from its
	// first "/", and the query after "?". It is the value of the entry's
	// URL purge scope and the base of its path prefix scopes.
	URL string
	// Tags are the purge tags: the route's own and the origin's
	// Surrogate-Key / Cache-Tag values.
	Tags []string
	// Groups are the cache groups the response joined (RFC 9875
	// Cache-Groups), purged by Cache-Group-Invalidation.
	Groups []string

	// Vary, on a marker, lists the canonical request header names that
	// select the variant (RFC 9111 §4.1). A marker has Status 0 and no body.
	// On a response entry it repeats the response's Vary field names.
	Vary []string

	// Status, Header and Body are the response as the origin sent it, less
	// hop-by-hop fields.
	Status int
	Header http.Header
	Body   []byte

	// RequestTime and ResponseTime are when the fill's request was sent and
	// its response received (RFC 9111 §4.2.3).
	RequestTime  time.Time
	ResponseTime time.Time
	// Freshness is the freshness lifetime (RFC 9111 §4.2.1).
	Freshness time.Duration
	// StaleWhileRevalidate and StaleIfError are the windows after Freshness
	// in which the entry may still be served (RFC 5861).
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration
	// MustRevalidate forbids serving the entry stale (RFC 9111 §5.2.2.2,
	// §5.2.2.8, no-cache §5.2.2.4 makes Freshness 0 as well).
	MustRevalidate bool

	// Upstream is the host:port of the backend's upstream that sent the
	// response (shown by /debug/entry); "" for entries stored before it
	// was recorded.
	Upstream string

	// Seq is the purge sequence read when the fill started; the entry is
	// valid while Seq is at or above the mark of every scope it belongs to.
	Seq uint64

	// RedisDown is set on the copy a Tiered store's Get returns when it
	// served the entry from L1 while Redis was unreachable, so that the
	// response can say so (Cache-Status detail=redis-down). It is never
	// stored.
	RedisDown bool
}

// IsMarker reports whether e is a Vary marker rather than a response.
func (e *Entry) IsMarker() bool { return e.Status == 0 }

// Size is the number of heap bytes the entry holds once stored in a
// Memory: its body (its capacity: a captured body may keep spare room),
// its strings, its header map, and what the Memory spends on it (its LRU
// item, its map slot, the 64-byte store key). A Memory bounded by Size
// is bounded by the heap it really takes.
//
// The costs were measured on amd64 with Go 1.26 (runtime.MemStats after
// GC, 50,000 entries, store/memory_test.go holds the test that keeps them
// honest): an Entry struct is 256 bytes, a Memory item 80, the store key
// 64, a slot of the Memory's map about 35, an empty header map 48; a
// header map with up to 8 fields adds one 8-slot group of 328 bytes
// (allocated as 352), each field its name and value strings and 16 bytes
// for its []string. Before this accounting an entry with a 10-byte body
// and 4 header fields was counted 436 bytes and took 1,058.
func (e *Entry) Size() int64 {
	n := int64(entryOverhead+cap(e.Body)) + allocBytes(len(e.Key)) + allocBytes(len(e.Route)) + allocBytes(len(e.Host)) + allocBytes(len(e.Upstream))
	n += headerBytes(e.Header)
	n += stringsBytes(e.Tags) + stringsBytes(e.Groups) + stringsBytes(e.Vary)
	return n
}

// entryOverhead is the fixed cost of a stored entry: the Entry (256), the
// Memory's item (80), its map slot (~35) and the 64-byte store key.
const entryOverhead = 256 + 80 + 35 + 64

// mapGroupBytes is one group of 8 slots of a map[string][]string (8 ×
// (16 + 24) + 8 control bytes, allocated as 352); mapHeaderBytes is the
// map itself.
const (
	mapGroupBytes  = 352
	mapHeaderBytes = 48
)

// headerBytes is the heap a header map holds: the map, its groups (one up
// to 8 fields, then a table sized for a 7/8 load), and each field's name,
// values and []string.
func headerBytes(h http.Header) int64 {
	if h == nil {
		return 0
	}
	n := int64(mapHeaderBytes)
	if len(h) > 0 {
		slots := 8 // a small map fills its one group
		for len(h) > 8 && slots*7 < len(h)*8 {
			slots *= 2
		}
		n += int64(slots/8) * mapGroupBytes
		if slots > 8 {
			n += 64 // the table and its directory
		}
	}
	for k, vs := range h {
		n += allocBytes(len(k)) + allocBytes(16*cap(vs))
		for _, v := range vs {
			n += allocBytes(len(v))
		}
	}
	return n
}

// stringsBytes is the heap a []string holds: its array and its strings.
func stringsBytes(ss []string) int64 {
	n := allocBytes(16 * cap(ss))
	for _, s := range ss {
		n += allocBytes(len(s))
	}
	return n
}

// allocBytes is about what the Go allocator takes for an object of n
// bytes: small ones are rounded up to 16 bytes, larger ones to their size
// class (at most 12.5% more), the largest to 8 KiB pages.
func allocBytes(n int) int64 {
	switch {
	case n == 0:
		return 0
	case n <= 256:
		return int64((n + 15) &^ 15)
	case n <= 32<<10:
		return int64(n + n/16)
	}
	return int64((n + 8191) &^ 8191)
}

// Store keeps entries under opaque keys (hex digests made by policy.Key).
// Implementations are safe for concurrent use.
type Store interface {
	// Get returns the entry stored under key, or ErrNotFound.
	Get(ctx context.Context, key string) (*Entry, error)
	// Set stores e under key for ttl (after which it may be dropped).
	Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error
	// Delete removes the entries stored under keys; absent keys are no error.
	Delete(ctx context.Context, keys ...string) error
	// Close releases the store's resources.
	Close() error
}

// MaxTTL caps how long any entry is kept, whatever its freshness: purge
// marks older than this can be dropped, as no entry predates them.
const MaxTTL = 30 * 24 * time.Hour
