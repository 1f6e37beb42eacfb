package policy

import (
	"net/http"
	"strings"
	"time"
)

// ConditionalHeaders are the validators to send to the origin to validate
// a stored response (RFC 9111 §4.3.1): If-None-Match from its ETag and
// If-Modified-Since from its Last-Modified, both when both exist.
func ConditionalHeaders(stored http.Header) http.Header {
	h := http.Header{}
	if etag := stored.Get("Etag"); etag != "" {
		h.Set("If-None-Match", etag)
	}
	if lm := stored.Get("Last-Modified"); lm != "" {
		h.Set("If-Modified-Since", lm)
	}
	return h
}

// NotModified reports whether a client's conditional GET or HEAD is
// answered with 304 by a response with status and header h (RFC 9110
// §13.2.2, RFC 9111 §4.3.2): If-None-Match by weak comparison when
// present, else If-Modified-Since against Last-Modified, or Date when the
// response has no Last-Modified. Only a 200 is answered with 304.
func NotModified(req *http.Request, status int, h http.Header) bool {
	if status != http.StatusOK || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
		return false
	}
	if inm := req.Header.Values("If-None-Match"); len(inm) > 0 {
		return etagListMatches(strings.Join(inm, ","), h.Get("Etag"))
	}
	v := req.Header.Get("If-Modified-Since")
	if v == "" {
		return false
	}
	ims, ok := ParseHTTPDate(v)
	if !ok {
		return false // §13.1.3: an invalid date is ignored
	}
	var modified time.Time
	if lm, ok := ParseHTTPDate(h.Get("Last-Modified")); ok {
		modified = lm
	} else if date, ok := ParseHTTPDate(h.Get("Date")); ok {
		modified = date
	} else {
		return false
	}
	return !modified.After(ims)
}

// etagListMatches evaluates an If-None-Match list against etag with the
// weak comparison function (RFC 9110 §8.8.3.2, §13.1.2). Only
// well-formed entity-tags compare (§8.8.3): an unquoted tag, a lower-case
// "w/" or a tag with a character outside etagc matches nothing, on either
// side; obs-text (bytes 0x80-0xFF) is allowed.
func etagListMatches(list, etag string) bool {
	list = strings.TrimSpace(list)
	if list == "*" {
		return true
	}
	want, rest := scanETag(strings.TrimSpace(etag))
	if want == "" || rest != "" {
		return false
	}
	want = opaqueTag(want)
	for list != "" {
		var tag string
		tag, list = scanETag(list)
		if tag == "" {
			return false // malformed: evaluate as false
		}
		if opaqueTag(tag) == want {
			return true
		}
	}
	return false
}

// scanETag reads one entity-tag from the start of s (after optional
// whitespace and commas) and returns it and the rest; tag is "" when s
// does not start with a well-formed entity-tag (RFC 9110 §8.8.3).
func scanETag(s string) (tag, rest string) {
	s = strings.TrimLeft(s, " \t,")
	start := 0
	if strings.HasPrefix(s, "W/") {
		start = 2
	}
	if len(s) <= start || s[start] != '"' {
		return "", ""
	}
	for i := start + 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return s[:i+1], strings.TrimLeft(s[i+1:], " \t,")
		case c == 0x21 || c >= 0x23 && c <= 0x7e || c >= 0x80: // etagc
		default:
			return "", ""
		}
	}
	return "", ""
}

// opaqueTag is an entity-tag without its weakness indicator.
func opaqueTag(etag string) string {
	return strings.TrimPrefix(etag, "W/")
}

// notUpdated are the fields a 304 does not change in a stored response
// (RFC 9111 §3.2): Content-Length, and Set-Cookie, which cachegate does
// not hand from one client to others.
var notUpdated = map[string]bool{"Content-Length": true, "Set-Cookie": true}

// UpdateHeaders returns the stored header fields updated with those of a
// 304 response to a validation (RFC 9111 §3.2, §4.3.4): each field the 304
// carries replaces the stored one.
func UpdateHeaders(stored, h304 http.Header) http.Header {
	h := stored.Clone()
	for name, values := range h304 {
		if notUpdated[name] {
			continue
		}
		h[name] = append([]string(nil), values...)
	}
	return h
}

// HeadMatches reports whether a 200 response to HEAD (head) describes the
// same representation as a stored response (RFC 9111 §4.3.5): each
// validator it carries (ETag, Last-Modified) has the stored value, and so
// has its Content-Length when it carries one. Then the stored response is
// updated with its fields (UpdateHeaders); otherwise the stored response
// must not be used any more.
func HeadMatches(stored, head http.Header) bool {
	if etag := head.Get("Etag"); etag != "" && etag != stored.Get("Etag") {
		return false
	}
	if lm := head.Get("Last-Modified"); lm != "" && !sameDate(lm, stored.Get("Last-Modified")) {
		return false
	}
	if cl := head.Get("Content-Length"); cl != "" && cl != stored.Get("Content-Length") {
		return false
	}
	return true
}

// sameDate reports whether two HTTP-date values name the same instant
// (one may be in an obsolete format), or are the same text.
func sameDate(a, b string) bool {
	ta, okA := ParseHTTPDate(a)
	tb, okB := ParseHTTPDate(b)
	if okA && okB {
		return ta.Equal(tb)
	}
	return a == b
}
