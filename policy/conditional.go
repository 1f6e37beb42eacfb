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
	ims, err := http.ParseTime(v)
	if err != nil {
		return false // §13.1.3: an invalid date is ignored
	}
	var modified time.Time
	if lm, err := http.ParseTime(h.Get("Last-Modified")); err == nil {
		modified = lm
	} else if date, err := http.ParseTime(h.Get("Date")); err == nil {
		modified = date
	} else {
		return false
	}
	return !modified.After(ims)
}

// etagListMatches evaluates an If-None-Match list against etag with the
// weak comparison function (RFC 9110 §8.8.3.2, §13.1.2).
func etagListMatches(list, etag string) bool {
	list = strings.TrimSpace(list)
	if list == "*" {
		return true
	}
	if etag == "" {
		return false
	}
	want := opaqueTag(etag)
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
// whitespace and commas) and returns it and the rest.
func scanETag(s string) (tag, rest string) {
	s = strings.TrimLeft(s, " \t,")
	start := 0
	if strings.HasPrefix(s, "W/") {
		start = 2
	}
	if len(s) <= start || s[start] != '"' {
		return "", ""
	}
	end := strings.IndexByte(s[start+1:], '"')
	if end < 0 {
		return "", ""
	}
	end += start + 2
	return s[:end], strings.TrimLeft(s[end:], " \t,")
}

// opaqueTag is an entity-tag without its weakness indicator.
func opaqueTag(etag string) string {
	return strings.TrimPrefix(strings.TrimSpace(etag), "W/")
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
