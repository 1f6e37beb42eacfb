package accesslog

import (
	"errors"
	"sync"
	"sync/atomic"
)

// Bounds of the live stream (README, "cachegate log").
const (
	// MaxViewers is how many viewers may watch at once: each costs every
	// request a filter test and a channel send.
	MaxViewers = 8
	// ViewerBuffer is how many records wait for a viewer; those that do
	// not fit are dropped and counted.
	ViewerBuffer = 1024
)

// ErrTooManyViewers refuses a viewer past the bound.
var ErrTooManyViewers = errors.New("accesslog: too many viewers of the live stream")

// ErrClosed refuses a viewer once the hub is closed (shutting down).
var ErrClosed = errors.New("accesslog: the live stream is closed")

// Hub publishes records to the viewers of the live stream. Publish never
// waits: a viewer whose buffer is full misses the record, and the miss is
// counted for it and in total. With no viewer, a request costs one atomic
// load (Watched).
type Hub struct {
	mu      sync.Mutex
	viewers atomic.Pointer[[]*Viewer] // copied on write under mu
	max     int
	buffer  int
	dropped atomic.Uint64
	done    chan struct{} // closed by Close
	closed  bool          // under mu
}

// NewHub returns a hub of at most maxViewers viewers of buffer records
// each.
func NewHub(maxViewers, buffer int) *Hub {
	return &Hub{max: maxViewers, buffer: buffer, done: make(chan struct{})}
}

// Close ends the live stream (shutdown): Done is closed, so that every
// stream ends and the server's shutdown does not wait on its viewers, and
// no viewer may watch after it.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

// Done is closed when the hub is.
func (h *Hub) Done() <-chan struct{} { return h.done }

// Viewer is one watcher of the live stream.
type Viewer struct {
	hub     *Hub
	filter  Filter
	records chan *Record
	dropped atomic.Uint64
	once    sync.Once
}

// Watched reports whether any viewer is watching. A nil Hub has none.
func (h *Hub) Watched() bool {
	if h == nil {
		return false
	}
	v := h.viewers.Load()
	return v != nil && len(*v) > 0
}

// Viewers is how many viewers are watching.
func (h *Hub) Viewers() int {
	if h == nil {
		return 0
	}
	if v := h.viewers.Load(); v != nil {
		return len(*v)
	}
	return 0
}

// Dropped is how many records all viewers missed since start.
func (h *Hub) Dropped() uint64 {
	if h == nil {
		return 0
	}
	return h.dropped.Load()
}

// Publish hands r to every viewer whose filter it passes, without waiting.
func (h *Hub) Publish(r *Record) {
	if h == nil {
		return
	}
	vs := h.viewers.Load()
	if vs == nil {
		return
	}
	for _, v := range *vs {
		if !v.filter.Match(r) {
			continue
		}
		select {
		case v.records <- r:
		default:
			v.dropped.Add(1)
			h.dropped.Add(1)
		}
	}
}

// Watch adds a viewer of the records f selects; Close removes it.
func (h *Hub) Watch(f Filter) (*Viewer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var vs []*Viewer
	if cur := h.viewers.Load(); cur != nil {
		vs = *cur
	}
	switch {
	case h.closed:
		return nil, ErrClosed
	case len(vs) >= h.max:
		return nil, ErrTooManyViewers
	}
	v := &Viewer{hub: h, filter: f, records: make(chan *Record, h.buffer)}
	next := append(append(make([]*Viewer, 0, len(vs)+1), vs...), v)
	h.viewers.Store(&next)
	return v, nil
}

// Records are the records for v, in the order published.
func (v *Viewer) Records() <-chan *Record { return v.records }

// TakeDropped returns how many records v missed since the last call.
func (v *Viewer) TakeDropped() uint64 { return v.dropped.Swap(0) }

// Close removes v from its hub; records already buffered stay readable.
func (v *Viewer) Close() {
	v.once.Do(func() {
		h := v.hub
		h.mu.Lock()
		defer h.mu.Unlock()
		var next []*Viewer
		for _, o := range *h.viewers.Load() {
			if o != v {
				next = append(next, o)
			}
		}
		h.viewers.Store(&next)
	})
}
