package purge

import (
	"sync"
	"time"

	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/store"
)

// Kind is the kind of a purge scope.
type Kind byte

// The scope kinds. Their byte values name them in Redis and in the log.
const (
	All    Kind = 'a' // every entry
	Host   Kind = 'h' // entries of one host
	Route  Kind = 'r' // entries stored by one route
	Tag    Kind = 't' // entries carrying one tag (Surrogate-Key, Cache-Tag, the route's tags)
	Prefix Kind = 'p' // entries whose path starts with a prefix, on any host or on one
	URL    Kind = 'u' // every variant of one URL
	Group  Kind = 'g' // entries of one cache group of one host (RFC 9875)
	// Pattern: entries whose host and path a glob matches, on any host
	// or on one (policy.PatternScope; pattern.go).
	Pattern Kind = 'w'
)

// Scope is one thing a purge invalidates: a kind and its value.
type Scope struct {
	Kind  Kind
	Value string
}

// String is the scope as stored in Redis: its kind byte, then the value.
func (s Scope) String() string { return string(s.Kind) + s.Value }

// parseScope reads a scope written by String.
func parseScope(s string) (Scope, bool) {
	if s == "" {
		return Scope{}, false
	}
	switch k := Kind(s[0]); k {
	case All, Host, Route, Tag, Prefix, URL, Group, Pattern:
		return Scope{Kind: k, Value: s[1:]}, true
	}
	return Scope{}, false
}

// Validity is what the marks say of an entry.
type Validity int

const (
	// Valid: no purge touched the entry since its fill started.
	Valid Validity = iota
	// SoftPurged: a soft purge made the entry stale; serve it while one
	// refresh runs.
	SoftPurged
	// Purged: the entry must not be served.
	Purged
)

// mark is a scope's hard and soft purge sequence values and its time (for
// trimming: when it was set, or earlier for a short-lived mark, see
// MarkTime).
type mark struct {
	hard, soft uint64
	at         time.Time
}

// marks is the in-memory table of purge marks, safe for concurrent use.
// Lookups allocate nothing: URL and prefix scopes are looked up with the
// entry's URL and its substrings (policy.URLPrefixes).
type marks struct {
	mu      sync.RWMutex
	applied uint64 // the highest sequence value applied
	all     mark
	// byKind is indexed by the Kind byte; a nil table has no marks.
	byKind [128]map[string]mark
	// count is the number of marks in all tables.
	count int
	// patterns are the marks of the Pattern table, compiled (pattern.go);
	// uncompiled is the highest hard mark of a pattern that did not
	// compile, taken as a mark of everything.
	patterns   []patternMark
	uncompiled uint64
}

func newMarks() *marks {
	return &marks{}
}

// set records that scope was purged at seq.
func (m *marks) set(s Scope, seq uint64, soft bool, at time.Time) {
	var mk *mark
	var table map[string]mark
	var cur mark
	if s.Kind == All {
		mk = &m.all
	} else {
		table = m.byKind[s.Kind&127]
		if table == nil {
			table = map[string]mark{}
			m.byKind[s.Kind&127] = table
		}
		var seen bool
		cur, seen = table[s.Value]
		if !seen {
			m.count++
		}
		mk = &cur
	}
	if soft {
		mk.soft = max(mk.soft, seq)
	} else {
		mk.hard = max(mk.hard, seq)
	}
	// A mark is kept as long as the longest-lived of the purges that set
	// it asked for: a short-lived invalidation after an unsafe request
	// never shortens an earlier purge of the same scope.
	if at.After(mk.at) {
		mk.at = at
	}
	if table != nil {
		table[s.Value] = cur
	}
	if s.Kind == Pattern {
		m.setPattern(s.Value, cur)
	}
}

// active is the number of marks held: one per purged scope, and one for
// a purge of everything.
func (m *marks) active() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := m.count
	if m.all != (mark{}) {
		n++
	}
	return n
}

// trim drops the marks set before horizon: no entry stored before then
// is still kept (entries live at most the store's TTL cap).
func (m *marks) trim(horizon time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, table := range m.byKind {
		for v, mk := range table {
			if mk.at.Before(horizon) {
				delete(table, v)
				m.count--
			}
		}
	}
	m.rebuildPatterns()
}

// check applies the marks to an entry.
func (m *marks) check(e *store.Entry) Validity {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v := m.all.validity(e.Seq)
	if m.count == 0 || v == Purged {
		return v
	}
	worse := func(kind Kind, value string) bool {
		if mk, ok := m.byKind[kind][value]; ok {
			v = max(v, mk.validity(e.Seq))
		}
		return v == Purged
	}
	if worse(Host, e.Host) || worse(Route, e.Route) {
		return v
	}
	for _, t := range e.Tags {
		if worse(Tag, t) {
			return v
		}
	}
	if len(m.byKind[Group]) > 0 {
		for _, g := range e.Groups {
			if worse(Group, GroupValue(e.Host, g)) {
				return v
			}
		}
	}
	if worse(URL, e.URL) {
		return v
	}
	if len(m.patterns) > 0 || m.uncompiled > 0 {
		if v = m.checkPatterns(e.URL, e.Seq, v); v == Purged {
			return v
		}
	}
	if len(m.byKind[Prefix]) == 0 {
		return v
	}
	for anyHost, oneHost := range policy.URLPrefixes(e.URL) {
		if worse(Prefix, anyHost) || worse(Prefix, oneHost) {
			return v
		}
	}
	return v
}

func (mk mark) validity(seq uint64) Validity {
	switch {
	case mk.hard > seq:
		return Purged
	case mk.soft > seq:
		return SoftPurged
	}
	return Valid
}

// GroupValue is the scope value of cache group g of host: groups are
// scoped to their origin (RFC 9875 §2).
func GroupValue(host, g string) string { return host + " " + g }

// URLScope is the scope of every variant of the URL of key k.
func URLScope(k policy.Key) Scope { return Scope{Kind: URL, Value: k.URL()} }
