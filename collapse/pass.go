package collapse

import (
	"container/list"
	"time"
)

// passKeys remembers the keys in hit-for-pass until they expire, at most
// max of them: one distinct uncacheable URL per request must not grow
// memory without bound. Every key gets the same lifetime, so the order in
// which keys were added is the order in which they expire: one list is
// both the expiry queue (expired keys are dropped from its front as new
// ones come) and the eviction order when the bound is reached.
//
// Hand-written rather than hashicorp/golang-lru's expirable LRU: that one
// starts a sweeping goroutine that can never be stopped (v2.0.7), and a
// Group must not leave goroutines behind.
//
// The Group's mutex guards it.
type passKeys struct {
	max   int
	order *list.List // of *passKey, oldest first
	keys  map[string]*list.Element
}

type passKey struct {
	key   string
	until time.Time
}

func newPassKeys(max int) *passKeys {
	return &passKeys{max: max, order: list.New(), keys: map[string]*list.Element{}}
}

// has reports whether key is in hit-for-pass at now.
func (p *passKeys) has(key string, now time.Time) bool {
	el, ok := p.keys[key]
	if !ok {
		return false
	}
	if now.Before(el.Value.(*passKey).until) {
		return true
	}
	p.remove(el)
	return false
}

// add puts key in hit-for-pass until until, and drops the keys expired
// at now and, past the bound, the oldest.
func (p *passKeys) add(key string, now, until time.Time) {
	if el, ok := p.keys[key]; ok {
		el.Value.(*passKey).until = until
		p.order.MoveToBack(el)
	} else {
		p.keys[key] = p.order.PushBack(&passKey{key: key, until: until})
	}
	for el := p.order.Front(); el != nil; el = p.order.Front() {
		if p.order.Len() <= p.max && now.Before(el.Value.(*passKey).until) {
			break
		}
		p.remove(el)
	}
}

func (p *passKeys) remove(el *list.Element) {
	p.order.Remove(el)
	delete(p.keys, el.Value.(*passKey).key)
}

func (p *passKeys) len() int { return p.order.Len() }
