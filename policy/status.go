package policy

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
// §2): the cache's name, then its parameters. httpsfv serializes the
// tokens and strings (RFC 9651 §4.1.6, §4.1.7); the parameters are joined
// with "; " rather than the canonical ";", as RFC 9211's examples write
// them and as the README documents them: a parser skips the space (RFC
// 9651 §4.2.3.2).
func (s CacheStatus) String() string {
	var b strings.Builder
	b.Grow(64 + len(s.Detail) + len(s.Key))
	b.WriteString(sfWord(s.Name))
	flag := func(key string) { // a Boolean true parameter (RFC 9651 §4.1.1.2)
		b.WriteString("; ")
		b.WriteString(key)
	}
	param := func(key string) {
		flag(key)
		b.WriteByte('=')
	}
	var digits [20]byte
	integer := func(n int64) {
		// RFC 9651 §4.1.4: an Integer is its decimal digits, as strconv
		// writes them; these (a status, seconds of a Duration) are far
		// within its 15 digits.
		b.Write(strconv.AppendInt(digits[:0], n, 10))
	}
	if s.Hit {
		flag("hit")
	}
	if s.Fwd != "" {
		param("fwd")
		b.WriteString(sfWord(s.Fwd))
		if s.FwdStatus != 0 {
			param("fwd-status")
			integer(int64(s.FwdStatus))
		}
	}
	if s.Stored {
		flag("stored")
	}
	if s.Collapsed {
		flag("collapsed")
	}
	if s.HasTTL {
		param("ttl")
		integer(int64(s.TTL / time.Second))
	}
	if s.Key != "" {
		param("key")
		b.WriteString(sfString(s.Key))
	}
	if s.Detail != "" {
		param("detail")
		b.WriteString(sfWord(s.Detail))
	}
	return b.String()
}

// noParams are the parameters of a bare item; httpsfv only reads them.
var noParams = httpsfv.NewParams()

// sfString serializes v, without the bytes an sf-string cannot carry, as
// an sf-string (RFC 9651 §4.1.6).
func sfString(v string) string {
	out, err := httpsfv.Marshal(httpsfv.Item{Value: printable(v), Params: noParams})
	if err != nil {
		// Unreachable: printable leaves only what a string carries.
		return `""`
	}
	return out
}

// sfTokenOrString serializes v, without the bytes an sf-string cannot
// carry, as an sf-token when it is one (RFC 9651 §4.1.7), else as an
// sf-string (§4.1.6): RFC 9211 §2 and §2.8 let the cache's name and the
// detail be either.
func sfTokenOrString(v string) string {
	v = printable(v)
	if out, err := httpsfv.Marshal(httpsfv.Item{Value: httpsfv.Token(v), Params: noParams}); err == nil {
		return out
	}
	return sfString(v)
}

// words memoizes sfTokenOrString for the few words String writes on every
// response (the cache's name, fwd reasons, details, all constants or
// configuration): serializing them anew cost more time and allocations
// than the rest of a hit (BenchmarkHit: 13 allocations became 21). At
// most maxWords are kept, so that no caller can grow it without bound.
var (
	words     sync.Map // string -> serialized string
	wordCount atomic.Int32
)

const maxWords = 256

// sfWord returns sfTokenOrString(v), memoized.
func sfWord(v string) string {
	if out, ok := words.Load(v); ok {
		return out.(string)
	}
	out := sfTokenOrString(v)
	if wordCount.Load() < maxWords && wordCount.Add(1) <= maxWords {
		words.Store(v, out)
	}
	return out
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
