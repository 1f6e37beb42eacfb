package metrics

import (
	"context"
	"time"

	"github.com/cachegate/cachegate/store"
)

// InstrumentStore returns a store.Store that passes every call to s and
// records Get, Set and Delete into m as StoreOp(backend, op, err, d).
// backend names the store ("memory", "redis"), never a key. The result has
// only the methods of store.Store: callers that need s's others (Bytes,
// Ping, Client) keep s for them. With a nil m, s is returned as is.
func InstrumentStore(s store.Store, backend string, m *Metrics) store.Store {
	if m == nil {
		return s
	}
	return &instrumentedStore{
		s:      s,
		get:    m.storeChildren.get(labelPair{backend, OpGet}),
		set:    m.storeChildren.get(labelPair{backend, OpSet}),
		delete: m.storeChildren.get(labelPair{backend, OpDelete}),
	}
}

// instrumentedStore is the store.Store InstrumentStore returns, with the
// series of each operation resolved once.
type instrumentedStore struct {
	s                store.Store
	get, set, delete *storeChild
}

func (i *instrumentedStore) Get(ctx context.Context, key string) (*store.Entry, error) {
	start := time.Now()
	e, err := i.s.Get(ctx, key)
	i.get.record(err, time.Since(start))
	return e, err
}

func (i *instrumentedStore) Set(ctx context.Context, key string, e *store.Entry, ttl time.Duration) error {
	start := time.Now()
	err := i.s.Set(ctx, key, e, ttl)
	i.set.record(err, time.Since(start))
	return err
}

func (i *instrumentedStore) Delete(ctx context.Context, keys ...string) error {
	start := time.Now()
	err := i.s.Delete(ctx, keys...)
	i.delete.record(err, time.Since(start))
	return err
}

func (i *instrumentedStore) Close() error { return i.s.Close() }
