package purge

import (
	"sync"

	"github.com/cachegate/cachegate/policy"
)

// Pattern scopes. A pattern mark (scope value policy.PatternScope) is
// checked at lookup against the entry's host and path, like the prefix
// marks, but by matching: each active pattern costs a hit one comparison
// of sequence values, and a glob match only when the pattern was purged
// after the entry's fill started. Active patterns are therefore bounded
// (DefaultPatternLimit, cache.max_pattern_purges): a purge that would go
// over the bound is widened (widenPatterns), never dropped.

// DefaultPatternLimit is how many pattern marks may be active at once
// unless configured otherwise.
const DefaultPatternLimit = 1000

// patternMark is an active pattern with its compiled matcher, kept beside
// the Pattern table so that a hit walks a slice, not a map.
type patternMark struct {
	value string
	match *policy.PathPattern
	mark
}

// compiledPatterns caches compiled patterns by scope value, so that a
// mirror reloading the marks, or many instances of one process, compile
// each pattern once. It is bounded: past maxCompiled entries it starts
// afresh (patterns are few: their marks are bounded too).
var compiledPatterns = struct {
	sync.Mutex
	m map[string]*policy.PathPattern
}{m: map[string]*policy.PathPattern{}}

const maxCompiled = 4 * DefaultPatternLimit

// compilePattern compiles a pattern scope value through the cache; a
// value that does not compile (written by a newer version, or corrupted)
// gives nil.
func compilePattern(value string) *policy.PathPattern {
	compiledPatterns.Lock()
	defer compiledPatterns.Unlock()
	if p, ok := compiledPatterns.m[value]; ok {
		return p
	}
	p, err := policy.CompilePattern(value)
	if err != nil {
		p = nil
	}
	if len(compiledPatterns.m) >= maxCompiled {
		clear(compiledPatterns.m)
	}
	compiledPatterns.m[value] = p
	return p
}

// setPattern records the pattern mark mk in the slice the check walks.
// m.mu is held.
func (m *marks) setPattern(value string, mk mark) {
	for i := range m.patterns {
		if m.patterns[i].value == value {
			m.patterns[i].mark = mk
			return
		}
	}
	match := compilePattern(value)
	if match == nil {
		// A pattern this version cannot read: the safe reading is that
		// it covers everything, on its host when it names one.
		m.uncompiled = max(m.uncompiled, mk.hard)
		return
	}
	m.patterns = append(m.patterns, patternMark{value: value, match: match, mark: mk})
}

// rebuildPatterns rebuilds the slice from the Pattern table after a trim.
// m.mu is held.
func (m *marks) rebuildPatterns() {
	table := m.byKind[Pattern]
	kept := m.patterns[:0]
	for _, p := range m.patterns {
		if mk, ok := table[p.value]; ok {
			p.mark = mk
			kept = append(kept, p)
		}
	}
	clear(m.patterns[len(kept):])
	m.patterns = kept
}

// checkPatterns applies the pattern marks to an entry whose URL (Key.URL
// form) is keyURL, filled at seq, starting from v. m.mu is held for
// reading.
func (m *marks) checkPatterns(keyURL string, seq uint64, v Validity) Validity {
	if m.uncompiled > seq {
		return Purged
	}
	hostPath, path := policy.SplitKeyURL(keyURL)
	for i := range m.patterns {
		p := &m.patterns[i]
		pv := p.validity(seq)
		if pv <= v || !p.match.MatchesTarget(hostPath, path) {
			continue
		}
		if v = pv; v == Purged {
			return v
		}
	}
	return v
}

// activePatterns is the number of pattern marks held.
func (m *marks) activePatterns() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.byKind[Pattern])
}

// widenPatterns returns scopes with the pattern scopes that would take the active
// patterns (active of them now) over limit replaced by wider scopes that
// cover them: the pattern's host when it names one, else everything. It
// returns the patterns widened. A pattern already active, or named twice,
// is not counted again (its mark is only moved). Never dropping a pattern keeps the
// rule that a purge is never missed; the caller makes the widening
// visible (log, metric, the purge's answer).
func widenPatterns(scopes []Scope, active, limit int, isActive func(string) bool) (out []Scope, widened []string) {
	out = scopes[:0:0]
	added := map[string]bool{}
	for _, s := range scopes {
		if s.Kind != Pattern || isActive(s.Value) || added[s.Value] {
			out = append(out, s)
			continue
		}
		if active < limit {
			active++
			added[s.Value] = true
			out = append(out, s)
			continue
		}
		widened = append(widened, s.Value)
		if host := policy.PatternHost(s.Value); host != "" {
			out = append(out, Scope{Kind: Host, Value: host})
		} else {
			out = append(out, Scope{Kind: All})
		}
	}
	return out, widened
}

// isActivePattern reports whether value is an active pattern mark.
func (m *marks) isActivePattern(value string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.byKind[Pattern][value]
	return ok
}

// widen applies widenPatterns against these marks with limit.
func (m *marks) widen(scopes []Scope, limit int) ([]Scope, []string) {
	for _, s := range scopes {
		if s.Kind == Pattern {
			return widenPatterns(scopes, m.activePatterns(), limit, m.isActivePattern)
		}
	}
	return scopes, nil
}
