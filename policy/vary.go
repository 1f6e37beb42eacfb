package policy

import (
	"cmp"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/dunglas/httpsfv"
)

// VaryNames returns the canonical request field names a response's Vary
// lists, sorted and without duplicates, and whether it lists "*" (RFC 9111
// §4.1: a Vary of "*" never matches a later request).
func VaryNames(h http.Header) (names []string, star bool) {
	for _, v := range h.Values("Vary") {
		for _, n := range strings.Split(v, ",") {
			n = strings.TrimSpace(n)
			switch {
			case n == "":
			case n == "*":
				star = true
			default:
				names = append(names, http.CanonicalHeaderKey(n))
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), star
}

// VaryKey is the secondary key of a request for the Vary names of a stored
// response (RFC 9111 §4.1): each field's values, combined and with the
// whitespace around commas normalized; an absent field differs from an
// empty one. Accept-Encoding is normalized to the codings cachegate tells
// apart, and Accept-Language to its ranges in order of preference, so that
// browsers do not split the cache.
func VaryKey(names []string, reqHeader http.Header) string {
	var b strings.Builder
	for _, name := range names {
		b.WriteString(name)
		values, ok := reqHeader[name]
		if !ok {
			b.WriteString("!\n")
			continue
		}
		b.WriteByte(':')
		v := strings.Join(values, ",")
		switch name {
		case "Accept-Encoding":
			v = NormalizeAcceptEncoding(v)
		case "Accept-Language":
			v = NormalizeAcceptLanguage(v)
		default:
			v = normalizeList(v)
		}
		b.WriteString(v)
		b.WriteByte('\n')
	}
	return b.String()
}

// normalizeList trims the whitespace around the members of a
// comma-separated field value and inside them collapses runs of spaces.
func normalizeList(v string) string {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		parts[i] = strings.Join(strings.Fields(p), " ")
	}
	return strings.Join(parts, ",")
}

// encodings are the content codings Accept-Encoding is reduced to, in the
// order the normalized value lists them.
var encodings = []string{"br", "gzip", "zstd"}

// NormalizeAcceptEncoding reduces an Accept-Encoding value (RFC 9110
// §12.5.3) to the acceptable codings among br, gzip and zstd, in a fixed
// order, or "identity" when none is acceptable. Requests that accept the
// same codings then share one variant, and the origin is asked with the
// normalized value so that its choice fits every client of the variant.
func NormalizeAcceptEncoding(v string) string {
	q := map[string]float64{}
	for _, member := range strings.Split(v, ",") {
		coding, params, _ := strings.Cut(member, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding == "x-gzip" {
			coding = "gzip"
		}
		if coding == "" {
			continue
		}
		weight := 1.0
		for _, p := range strings.Split(params, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
				if err != nil {
					f = 0
				}
				weight = f
			}
		}
		if old, seen := q[coding]; !seen || weight > old {
			q[coding] = weight
		}
	}
	var out []string
	for _, c := range encodings {
		w, listed := q[c]
		if !listed {
			w, listed = q["*"]
		}
		if listed && w > 0 {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return "identity"
	}
	return strings.Join(out, ", ")
}

// NormalizeAcceptLanguage rewrites an Accept-Language value (RFC 9110
// §12.5.4) in one canonical form: language ranges lower-cased (they are
// case-insensitive, RFC 4647 §2.1), ordered by weight with the field's
// order kept among equal weights, ranges with q=0 and repeated ranges
// dropped, and weights written only when below 1, in at most three
// decimals. "en-US;q=0.5, DE" and "de,en-us;q=0.50" select one variant.
// A malformed weight counts as 1, as a range without one would.
func NormalizeAcceptLanguage(v string) string {
	type lang struct {
		tag    string
		weight float64
	}
	var langs []lang
	seen := map[string]bool{}
	for _, member := range strings.Split(v, ",") {
		tag, params, _ := strings.Cut(member, ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		if tag == "" || seen[tag] {
			continue
		}
		weight := 1.0
		for _, p := range strings.Split(params, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil && f >= 0 && f <= 1 {
					weight = math.Round(f*1000) / 1000
				}
			}
		}
		seen[tag] = true
		if weight > 0 {
			langs = append(langs, lang{tag, weight})
		}
	}
	slices.SortStableFunc(langs, func(a, b lang) int { return cmp.Compare(b.weight, a.weight) })
	var b strings.Builder
	for i, l := range langs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.tag)
		if l.weight < 1 {
			b.WriteString(";q=")
			b.WriteString(strconv.FormatFloat(l.weight, 'f', -1, 64))
		}
	}
	return b.String()
}

// CacheGroups reads the groups a Cache-Groups or Cache-Group-Invalidation
// field names (RFC 9875 §2, §3): its lines are one Structured Fields List
// (RFC 9651 §4.2), whose String members are the groups; other members and
// all parameters are ignored, and so is an empty string. A field that does
// not parse names no group: it is ignored as a whole (RFC 9651 §4.2).
func CacheGroups(h http.Header, field string) []string {
	lines := h.Values(field)
	if len(lines) == 0 {
		return nil
	}
	list, err := httpsfv.UnmarshalList(lines)
	if err != nil {
		return nil
	}
	var groups []string
	for _, m := range list {
		if item, ok := m.(httpsfv.Item); ok {
			if g, ok := item.Value.(string); ok && g != "" {
				groups = append(groups, g)
			}
		}
	}
	return groups
}
