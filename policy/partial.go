package policy

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Partial content (RFC 9111 §3.3, §3.4; RFC 9110 §14). cachegate stores a
// 206 of one byte range as a partial entry and serves later ranges held
// wholly inside it; anything else goes to the origin. net/http parses
// ranges only inside ServeContent, unexported, hence these small parsers.
// A prefix or suffix part with a strong entity-tag is completed by asking
// the origin for the rest (Completion) and combined into the whole 200.

// ContentRange is a single byte range of a representation of Size bytes
// (RFC 9110 §14.4): bytes First through Last, inclusive.
type ContentRange struct {
	First, Last, Size int64
}

// ParseContentRange reads a Content-Range field value "bytes a-b/N" (RFC
// 9110 §14.4). An unsatisfied range ("bytes */N"), an unknown length
// ("/*"), another unit or a range outside the length is not ok.
func ParseContentRange(v string) (ContentRange, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !ok {
		return ContentRange{}, false
	}
	span, size, ok := strings.Cut(rest, "/")
	first, last, ok2 := strings.Cut(span, "-")
	if !ok || !ok2 {
		return ContentRange{}, false
	}
	cr := ContentRange{}
	var err error
	if cr.First, err = parseDigits(first); err != nil {
		return ContentRange{}, false
	}
	if cr.Last, err = parseDigits(last); err != nil {
		return ContentRange{}, false
	}
	if cr.Size, err = parseDigits(size); err != nil {
		return ContentRange{}, false
	}
	if cr.First > cr.Last || cr.Last >= cr.Size {
		return ContentRange{}, false
	}
	return cr, true
}

// Len is the number of bytes the range holds.
func (cr ContentRange) Len() int64 { return cr.Last - cr.First + 1 }

// parseDigits reads a non-negative decimal of 1DIGIT or more, nothing else
// (no sign, no space), as RFC 9110 §14 writes them.
func parseDigits(s string) (int64, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(s, 10, 64)
}

// maxRanges bounds the ranges of one Range field that RangesWithin
// evaluates; a request with more goes to the origin.
const maxRanges = 32

// RangesWithin reports whether every range of a Range field value (RFC
// 9110 §14.2: "bytes=" then int-ranges "a-b", "a-" and suffix ranges "-n")
// is satisfiable for a representation of held.Size bytes and lies wholly
// inside the bytes held (RFC 9111 §3.3: "the request is partial and
// specifies a range wholly within the incomplete response"). A malformed
// or unsatisfiable field is not: the origin answers it.
func RangesWithin(spec string, held ContentRange) bool {
	// Nothing is trimmed around the field (the server did) and only SP and
	// HTAB around each range: never more than net/http's ServeContent
	// accepts, which answers "bytes=7-\v" 416.
	list, ok := strings.CutPrefix(spec, "bytes=")
	if !ok {
		return false
	}
	n, total := 0, int64(0)
	for part := range strings.SplitSeq(list, ",") {
		part = strings.Trim(part, " \t")
		if part == "" {
			continue // RFC 9110 §5.6.1: empty list elements are ignored
		}
		if n++; n > maxRanges {
			return false
		}
		first, last, ok := resolveRange(part, held.Size)
		if !ok || first < held.First || last > held.Last {
			return false
		}
		// Ranges that add up to more than the representation are answered
		// whole by net/http (and may be by any server): not from a part.
		if total += last - first + 1; total > held.Size {
			return false
		}
	}
	return n > 0
}

// resolveRange resolves one range-spec against a representation of size
// bytes (RFC 9110 §14.1.2), or is not ok when it is malformed or
// unsatisfiable.
func resolveRange(spec string, size int64) (first, last int64, ok bool) {
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false
	}
	if a == "" { // suffix-range: the last b bytes
		n, err := parseDigits(b)
		if err != nil || n == 0 {
			return 0, 0, false
		}
		return max(size-n, 0), size - 1, true
	}
	first, err := parseDigits(a)
	if err != nil || first >= size {
		return 0, 0, false
	}
	last = size - 1
	if b != "" {
		if last, err = parseDigits(b); err != nil || last < first {
			return 0, 0, false
		}
		last = min(last, size-1)
	}
	return first, last, true
}

// PartServes reports whether a stored part, a 206 with header h, may
// answer r: a GET or HEAD whose every range lies wholly inside the part
// (RFC 9111 §3.3). A request with If-Range goes to the origin: answering
// it could need the whole representation (RFC 9110 §13.1.5).
func PartServes(r *http.Request, h http.Header) bool {
	held, ok := ParseContentRange(h.Get("Content-Range"))
	return ok && (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		r.Header.Get("If-Range") == "" && RangesWithin(r.Header.Get("Range"), held)
}

// BodyFits reports whether a body of n bytes is what a response with
// status and header h says it is: for a 206, exactly the bytes its
// Content-Range names (RFC 9110 §14.4); any other body fits.
func BodyFits(status int, h http.Header, n int) bool {
	if status != http.StatusPartialContent {
		return true
	}
	cr, ok := ParseContentRange(h.Get("Content-Range"))
	return ok && cr.Len() == int64(n)
}

// DecideStorePartial applies RFC 9111 §3.3 to a 206 answering a Range
// request the cache forwarded: it is stored as a partial entry when it
// holds one byte range of a representation of known length (its
// Content-Range, ParseContentRange; a multipart 206 has none) and the
// response would be stored whole (DecideStore, with the cacheability of
// the complete 200: 206 is heuristically cacheable, RFC 9110 §15.3.7).
func DecideStorePartial(rt *Route, req *http.Request, h http.Header, reqTime, respTime time.Time) StoreDecision {
	if _, ok := ParseContentRange(h.Get("Content-Range")); !ok || len(h.Values("Content-Range")) != 1 {
		return StoreDecision{Reason: "partial"}
	}
	return DecideStore(rt, req, http.StatusOK, h, reqTime, respTime)
}

// Completion is what completes a stored part (RFC 9111 §3.4): the bytes
// of the representation it lacks, asked of the origin with If-Range and
// the part's strong entity-tag, so that an origin whose representation
// changed answers the whole 200 instead.
type Completion struct {
	// Missing is the byte range the part lacks.
	Missing ContentRange
	// ETag is the part's strong entity-tag.
	ETag string
}

// CompletionOf returns the completion of a stored part with header h, or
// not ok. Only two shapes are completed, a prefix (bytes 0-b/N) and a
// suffix (bytes a-(N-1)/N), each with one range left to ask; and only
// with a strong entity-tag (RFC 9111 §3.4 combines on strong validators
// alone; RFC 9110 §8.8.1: a weak one does not say the bytes are the same).
func CompletionOf(h http.Header) (Completion, bool) {
	held, ok := ParseContentRange(h.Get("Content-Range"))
	etag := strongETag(h)
	if !ok || etag == "" || len(h.Values("Content-Range")) != 1 {
		return Completion{}, false
	}
	c := Completion{ETag: etag, Missing: ContentRange{Size: held.Size}}
	switch {
	case held.First == 0 && held.Last < held.Size-1:
		c.Missing.First, c.Missing.Last = held.Last+1, held.Size-1
	case held.First > 0 && held.Last == held.Size-1:
		c.Missing.First, c.Missing.Last = 0, held.First-1
	default:
		return Completion{}, false
	}
	return c, true
}

// Range is the Range field value asking for the missing bytes (RFC 9110
// §14.1.2): open-ended after a prefix.
func (c Completion) Range() string {
	if c.Missing.First > 0 {
		return "bytes=" + strconv.FormatInt(c.Missing.First, 10) + "-"
	}
	return "bytes=0-" + strconv.FormatInt(c.Missing.Last, 10)
}

// Completes reports whether a response to the completion request, with
// status and header h, holds exactly the missing bytes of the same
// representation: a 206 of one range that is the missing one, of the same
// complete length, with the same strong entity-tag (RFC 9111 §3.4: "the
// new response's validators match"). Only then are the two combined.
func (c Completion) Completes(status int, h http.Header) bool {
	if status != http.StatusPartialContent || len(h.Values("Content-Range")) != 1 {
		return false
	}
	got, ok := ParseContentRange(h.Get("Content-Range"))
	return ok && got == c.Missing && strongETag(h) == c.ETag
}

// CombinedHeader is the header of the complete 200 that a part and the 206
// completing it make: the newer response's fields (RFC 9111 §3.4, §3.2),
// without Content-Range, with the whole length as Content-Length.
func (c Completion) CombinedHeader(h206 http.Header) http.Header {
	h := h206.Clone()
	h.Del("Content-Range")
	h.Set("Content-Length", strconv.FormatInt(c.Missing.Size, 10))
	return h
}

// strongETag is h's entity-tag when it has exactly one, well-formed and
// strong (RFC 9110 §8.8.3), else "".
func strongETag(h http.Header) string {
	vs := h.Values("Etag")
	if len(vs) != 1 {
		return ""
	}
	tag, rest := scanETag(strings.TrimSpace(vs[0]))
	if tag == "" || rest != "" || strings.HasPrefix(tag, "W/") {
		return ""
	}
	return tag
}
