package policy

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// targetedDirectives returns the directives of the first valid targeted
// field of h among targets (RFC 9213 §2.2): a valid one takes precedence
// over Cache-Control and Expires. A field that is not a valid Structured
// Fields Dictionary (RFC 8941 §3.2) is ignored, and the next is tried.
func targetedDirectives(h http.Header, targets []string) (ResponseDirectives, bool) {
	for _, name := range targets {
		values := h.Values(name)
		if len(values) == 0 {
			continue
		}
		d, err := parseTargeted(strings.Join(values, ","))
		if err == nil {
			return d, true
		}
	}
	return ResponseDirectives{}, false
}

// parseTargeted reads a targeted field as an SF Dictionary whose members
// carry the Cache-Control directives (RFC 9213 §2.1).
func parseTargeted(v string) (ResponseDirectives, error) {
	members, err := parseDictionary(v)
	if err != nil {
		return ResponseDirectives{}, err
	}
	var d ResponseDirectives
	seconds := func(m sfMember) (time.Duration, bool) {
		if m.kind != sfInteger || m.integer < 0 {
			return 0, false
		}
		return min(time.Duration(m.integer)*time.Second, maxDelta), true
	}
	for _, m := range members {
		switch m.key {
		case "max-age":
			if s, ok := seconds(m); ok {
				d.MaxAge, d.HasMaxAge = s, true
			} else {
				d.InvalidFreshness = true
			}
		case "s-maxage":
			if s, ok := seconds(m); ok {
				d.SMaxAge, d.HasSMaxAge = s, true
			} else {
				d.InvalidFreshness = true
			}
		case "stale-while-revalidate":
			d.StaleWhileRevalidate, d.HasStaleWhileRevalidate = seconds(m)
		case "stale-if-error":
			d.StaleIfError, d.HasStaleIfErr = seconds(m)
		case "no-store":
			d.NoStore = m.isTrue()
		case "no-cache":
			// A field-name list cannot be honoured field by field here:
			// treat any no-cache as unqualified, the stricter reading.
			d.NoCache = m.kind != sfBoolean || m.boolean
		case "private":
			d.Private = m.kind != sfBoolean || m.boolean
		case "public":
			d.Public = m.isTrue()
		case "must-revalidate":
			d.MustRevalidate = m.isTrue()
		case "proxy-revalidate":
			d.ProxyRevalidate = m.isTrue()
		case "immutable":
			d.Immutable = m.isTrue()
		}
	}
	return d, nil
}

type sfKind int

const (
	sfBoolean sfKind = iota
	sfInteger
	sfOther
)

// sfMember is one dictionary member: its key and, for the kinds the
// directives use, its value. Parameters are parsed and dropped.
type sfMember struct {
	key     string
	kind    sfKind
	boolean bool
	integer int64
}

func (m sfMember) isTrue() bool { return m.kind == sfBoolean && m.boolean }

var errSF = errors.New("invalid structured field")

// parseDictionary parses an SF Dictionary (RFC 8941 §4.2.2). A later member
// with the same key overrides an earlier one.
func parseDictionary(s string) ([]sfMember, error) {
	p := &sfParser{s: s}
	p.skipSP()
	var out []sfMember
	index := map[string]int{}
	for !p.done() {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		m := sfMember{key: key, kind: sfBoolean, boolean: true}
		if p.peek() == '=' {
			p.i++
			if p.peek() == '(' {
				if err := p.innerList(); err != nil {
					return nil, err
				}
				m.kind = sfOther
			} else if m, err = p.bareItem(key); err != nil {
				return nil, err
			}
		}
		if err := p.params(); err != nil {
			return nil, err
		}
		if i, ok := index[key]; ok {
			out[i] = m
		} else {
			index[key] = len(out)
			out = append(out, m)
		}
		p.skipOWS()
		if p.done() {
			return out, nil
		}
		if p.peek() != ',' {
			return nil, errSF
		}
		p.i++
		p.skipOWS()
		if p.done() {
			return nil, errSF // trailing comma
		}
	}
	return out, nil
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) done() bool { return p.i >= len(p.s) }

func (p *sfParser) peek() byte {
	if p.done() {
		return 0
	}
	return p.s[p.i]
}

func (p *sfParser) skipSP() {
	for p.peek() == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for p.peek() == ' ' || p.peek() == '\t' {
		p.i++
	}
}

func (p *sfParser) key() (string, error) {
	c := p.peek()
	if !(c >= 'a' && c <= 'z' || c == '*') {
		return "", errSF
	}
	start := p.i
	for !p.done() {
		c := p.s[p.i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("_-.*", c) >= 0 {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i], nil
}

func (p *sfParser) params() error {
	for p.peek() == ';' {
		p.i++
		p.skipSP()
		key, err := p.key()
		if err != nil {
			return err
		}
		if p.peek() == '=' {
			p.i++
			if _, err := p.bareItem(key); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *sfParser) innerList() error {
	p.i++ // (
	for {
		p.skipSP()
		if p.peek() == ')' {
			p.i++
			return p.params()
		}
		if p.done() {
			return errSF
		}
		if _, err := p.bareItem(""); err != nil {
			return err
		}
		if err := p.params(); err != nil {
			return err
		}
		if c := p.peek(); c != ' ' && c != ')' {
			return errSF
		}
	}
}

// bareItem parses an Item's bare value (RFC 8941 §4.2.3.1).
func (p *sfParser) bareItem(key string) (sfMember, error) {
	m := sfMember{key: key, kind: sfOther}
	c := p.peek()
	switch {
	case c == '-' || c >= '0' && c <= '9':
		start := p.i
		if c == '-' {
			p.i++
		}
		digits, decimal := 0, false
		for !p.done() {
			c := p.s[p.i]
			if c >= '0' && c <= '9' {
				digits++
				p.i++
			} else if c == '.' && !decimal {
				decimal = true
				p.i++
			} else {
				break
			}
		}
		if digits == 0 || (!decimal && digits > 15) || (decimal && (digits > 15 || p.s[p.i-1] == '.')) {
			return m, errSF
		}
		if !decimal {
			n, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
			if err != nil {
				return m, errSF
			}
			m.kind, m.integer = sfInteger, n
		}
		return m, nil
	case c == '"':
		p.i++
		for {
			if p.done() {
				return m, errSF
			}
			c := p.s[p.i]
			p.i++
			switch {
			case c == '\\':
				if p.done() || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
					return m, errSF
				}
				p.i++
			case c == '"':
				return m, nil
			case c < 0x20 || c > 0x7e:
				return m, errSF
			}
		}
	case c == '*' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		for !p.done() && (isTchar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
			p.i++
		}
		return m, nil
	case c == ':':
		end := strings.IndexByte(p.s[p.i+1:], ':')
		if end < 0 {
			return m, errSF
		}
		p.i += end + 2
		return m, nil
	case c == '?':
		p.i++
		switch p.peek() {
		case '0', '1':
			m.kind, m.boolean = sfBoolean, p.peek() == '1'
			p.i++
			return m, nil
		}
		return m, errSF
	}
	return m, errSF
}

// isTchar reports whether c may appear in a token (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
