package policy

import (
	"strings"
	"time"

	"github.com/dunglas/httpsfv"
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

// String formats the member as a Structured Fields List member (RFC 9211
// §2): the cache's name, then its parameters. httpsfv serializes every
// value (RFC 9651 §4.1); the parameters are joined with "; " rather than
// the canonical ";", as RFC 9211's examples write them and as the README
// documents them: a parser skips the space (RFC 9651 §4.2.3.2).
func (s CacheStatus) String() string {
	var b strings.Builder
	b.Grow(64 + len(s.Detail) + len(s.Key))
	b.WriteString(sfTokenOrString(s.Name))
	flag := func(key string) {
		b.WriteString("; ")
		b.WriteString(key)
	}
	param := func(key, value string) {
		flag(key)
		b.WriteByte('=')
		b.WriteString(value)
	}
	if s.Hit {
		flag("hit")
	}
	if s.Fwd != "" {
		param("fwd", sfTokenOrString(s.Fwd))
		if s.FwdStatus != 0 {
			param("fwd-status", sfBare(int64(s.FwdStatus)))
		}
	}
	if s.Stored {
		flag("stored")
	}
	if s.Collapsed {
		flag("collapsed")
	}
	if s.HasTTL {
		param("ttl", sfBare(int64(s.TTL/time.Second)))
	}
	if s.Key != "" {
		param("key", sfBare(printable(s.Key)))
	}
	if s.Detail != "" {
		param("detail", sfTokenOrString(s.Detail))
	}
	return b.String()
}

// noParams are the parameters of a bare item; httpsfv only reads them.
var noParams = httpsfv.NewParams()

// sfBare serializes v, a bare item (RFC 9651 §4.1.3.1) made valid by the
// caller, with httpsfv.
func sfBare(v any) string {
	out, err := httpsfv.Marshal(httpsfv.Item{Value: v, Params: noParams})
	if err != nil {
		// Unreachable for the values String passes (printable strings,
		// small integers); an empty string keeps the field valid.
		return `""`
	}
	return out
}

// sfTokenOrString serializes v, without the bytes an sf-string cannot
// carry, as an sf-token when it is one (RFC 9651 §3.3.4), else as an
// sf-string (§3.3.3): RFC 9211 §2 and §2.8 let the cache's name and the
// detail be either.
func sfTokenOrString(v string) string {
	v = printable(v)
	if out, err := httpsfv.Marshal(httpsfv.Item{Value: httpsfv.Token(v), Params: noParams}); err == nil {
		return out
	}
	return sfBare(v)
}

// printable drops from v the bytes an sf-string cannot carry (RFC 9651
// §3.3.3: printable ASCII only): a status member is better shortened than
// invalid.
func printable(v string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, v)
}
