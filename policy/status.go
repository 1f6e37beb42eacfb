package policy

import (
	"strconv"
	"strings"
	"time"
)

// CacheStatus is one member of the Cache-Status field (RFC 9211 §2): how
// this cache handled the request.
type CacheStatus struct {
	// Name identifies the cache (§2).
	Name string
	// Hit: the response came from the cache without going forward (§2.1).
	Hit bool
	// Fwd is why the request went forward: uri-miss, vary-miss, miss,
	// request, stale, bypass, method (§2.2).
	Fwd string
	// FwdStatus is the status the next hop answered (§2.3).
	FwdStatus int
	// Stored: the response was stored (§2.5).
	Stored bool
	// Collapsed: the request waited for another's fill (§2.6).
	Collapsed bool
	// TTL is the remaining freshness, negative when stale (§2.4); HasTTL
	// says whether to report it.
	TTL    time.Duration
	HasTTL bool
	// Key is the cache key, when it should be shown (§2.7).
	Key string
	// Detail says more, e.g. why a response was not stored (§2.8).
	Detail string
}

// String formats the member as a Structured Fields list item.
func (s CacheStatus) String() string {
	var b strings.Builder
	b.Grow(64 + len(s.Detail) + len(s.Key))
	b.WriteString(sfTokenOrString(s.Name))
	if s.Hit {
		b.WriteString("; hit")
	}
	if s.Fwd != "" {
		b.WriteString("; fwd=")
		b.WriteString(s.Fwd)
		if s.FwdStatus != 0 {
			b.WriteString("; fwd-status=")
			b.WriteString(strconv.Itoa(s.FwdStatus))
		}
	}
	if s.Stored {
		b.WriteString("; stored")
	}
	if s.Collapsed {
		b.WriteString("; collapsed")
	}
	if s.HasTTL {
		b.WriteString("; ttl=")
		b.WriteString(strconv.FormatInt(int64(s.TTL/time.Second), 10))
	}
	if s.Key != "" {
		b.WriteString("; key=")
		b.WriteString(sfString(s.Key))
	}
	if s.Detail != "" {
		b.WriteString("; detail=")
		b.WriteString(sfTokenOrString(s.Detail))
	}
	return b.String()
}

// sfTokenOrString writes v as an sf-token when it is one, else as an
// sf-string (RFC 8941 §3.3.3, §3.3.4).
func sfTokenOrString(v string) string {
	if v != "" && (v[0] == '*' || v[0] >= 'a' && v[0] <= 'z' || v[0] >= 'A' && v[0] <= 'Z') {
		ok := true
		for i := 1; i < len(v); i++ {
			if !isTchar(v[i]) && v[i] != ':' && v[i] != '/' {
				ok = false
				break
			}
		}
		if ok {
			return v
		}
	}
	return sfString(v)
}

// sfString quotes v as an sf-string, dropping characters it cannot carry.
func sfString(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20 && c <= 0x7e:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
