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
	// HeadOnly is set when the entry was filled by a HEAD request: it has
	// no body and is never served to a GET (RFC 9111 §4.3.5 aside).
	HeadOnly bool

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

// Size is the number of bytes the entry accounts for in a bounded store:
// its body, its header fields and its strings.
func (e *Entry) Size() int64 {
	n := int64(len(e.Body) + len(e.Key) + len(e.Route) + len(e.Host) + entryOverhead)
	for k, vs := range e.Header {
		n += int64(len(k))
		for _, v := range vs {
			n += int64(len(v)) + 16
		}
	}
	for _, t := range e.Tags {
		n += int64(len(t)) + 16
	}
	for _, v := range e.Vary {
		n += int64(len(v)) + 16
	}
	return n
}

// entryOverhead approximates the fixed cost of an Entry and its map.
const entryOverhead = 256

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
