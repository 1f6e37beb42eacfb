package accesslog

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// The longest values a Record keeps of what a client sent (Bound): a
// record waits in queues (the log's, each viewer's), so that its size,
// not only their lengths, must be bounded whatever the request carried.
// Varnish's log truncates its records likewise (vsl_reclen).
const (
	MaxURI       = 4096
	MaxReferer   = 1024
	MaxUserAgent = 512
)

// Bound cuts the values a client chose (URI, Referer, User-Agent) to
// MaxURI, MaxReferer and MaxUserAgent bytes, marking a cut with "...":
// a record then holds at most about 6 KiB. The other fields are cachegate's
// or bounded by the header limits already (Host).
func (r *Record) Bound() {
	r.URI = cut(r.URI, MaxURI)
	r.Referer = cut(r.Referer, MaxReferer)
	r.UserAgent = cut(r.UserAgent, MaxUserAgent)
}

// cut is s, or its first max-3 bytes and "..." when it is longer than max.
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return s[:max-3] + "..."
}

// Record is one request as the access log and the live stream tell it.
// The JSON names are stable (README, "Access log"). A Record is not
// changed once published: the log's goroutine and every viewer read it.
type Record struct {
	Time time.Time `json:"time"`
	// RequestID is X-Request-Id as a trusted proxy sent it, else generated.
	RequestID string `json:"request_id"`
	// Client is the client's address: the peer, or, behind
	// trusted_proxies, the address they forwarded.
	Client    string `json:"client"`
	Method    string `json:"method"`
	URI       string `json:"uri"`
	Proto     string `json:"proto"`
	Host      string `json:"host"`
	Status    int    `json:"status"`
	Bytes     int64  `json:"bytes"`
	Referer   string `json:"referer"`
	UserAgent string `json:"user_agent"`
	Route     string `json:"route"`
	// Cache is the state the request ended in (hit, miss, stale, ...,
	// as the metrics tell them apart); CacheStatus the Cache-Status
	// field sent (RFC 9211).
	Cache       string `json:"cache"`
	CacheStatus string `json:"cache_status"`
	// Backend names the route's backend ("" for origin); Upstream is the
	// host:port that answered, when the origin was asked.
	Backend  string `json:"backend"`
	Upstream string `json:"upstream"`
	// OriginMicros is how long the origin took, 0 when not asked;
	// TotalMicros is the whole request, both in microseconds.
	OriginMicros int64 `json:"origin_us"`
	TotalMicros  int64 `json:"total_us"`
}

// Formats of the access log.
const (
	FormatJSON     = "json"
	FormatCombined = "combined"
)

// AppendJSON appends r as one JSON object and a newline. encoding/json
// escapes every C0 control character, quote and backslash, and replaces
// invalid UTF-8, so no field can end the line or the object; the C1
// controls (U+0080 to U+009F, which a terminal may take as the start of an
// escape sequence, U+009B as CSI) are escaped here, so that a log read on
// a terminal (cachegate log -json, tail) shows a client's bytes and does
// not obey them.
func AppendJSON(b []byte, r *Record) []byte {
	start := len(b)
	buf := bytes.NewBuffer(b)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	enc.Encode(r) // a Record has no value that fails to encode
	return escapeC1(buf.Bytes(), start)
}

// escapeC1 rewrites, from b[start:] on, each C1 control (UTF-8 0xC2
// 0x80-0x9F, only ever inside a JSON string) as its \u00XX escape.
func escapeC1(b []byte, start int) []byte {
	i := bytes.IndexByte(b[start:], 0xC2)
	if i < 0 {
		return b
	}
	out := append([]byte(nil), b[:start+i]...)
	const hex = "0123456789abcdef"
	for rest := b[start+i:]; len(rest) > 0; {
		if len(rest) >= 2 && rest[0] == 0xC2 && rest[1] >= 0x80 && rest[1] <= 0x9F {
			out = append(out, '\\', 'u', '0', '0', hex[rest[1]>>4], hex[rest[1]&0xF])
			rest = rest[2:]
			continue
		}
		out = append(out, rest[0])
		rest = rest[1:]
	}
	return out
}

// combinedTime is the time format of the combined log format.
const combinedTime = "02/Jan/2006:15:04:05 -0700"

// AppendCombined appends r in the NCSA combined log format and a newline:
//
//	client - - [time] "method uri proto" status bytes "referer" "user-agent"
//
// Every field a client wrote is escaped as nginx does (a quote, a
// backslash, a control or non-ASCII byte become \xHH), so that a value
// cannot close its quotes or end the line.
func AppendCombined(b []byte, r *Record) []byte {
	b = appendField(b, r.Client)
	b = append(b, " - - ["...)
	b = r.Time.AppendFormat(b, combinedTime)
	b = append(b, `] "`...)
	b = appendEscaped(b, r.Method)
	b = append(b, ' ')
	b = appendEscaped(b, r.URI)
	b = append(b, ' ')
	b = appendEscaped(b, r.Proto)
	b = append(b, `" `...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.Bytes, 10)
	b = append(b, ` "`...)
	b = appendField(b, r.Referer)
	b = append(b, `" "`...)
	b = appendField(b, r.UserAgent)
	return append(b, "\"\n"...)
}

// appendField appends s escaped, or "-" when it is empty (the combined
// format's "not known").
func appendField(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return appendEscaped(b, s)
}

const hexDigits = "0123456789ABCDEF"

// appendEscaped appends s with every byte that could break a quoted field
// or the line written \xHH.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			continue
		}
		b = append(b, c)
	}
	return b
}

// Append appends r in format (FormatJSON or FormatCombined).
func Append(b []byte, format string, r *Record) []byte {
	if format == FormatCombined {
		return AppendCombined(b, r)
	}
	return AppendJSON(b, r)
}
