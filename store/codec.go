package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/cachegate/cachegate/policy"
	"net/http"
	"time"
)

// Encoded entries are laid out as
//
//	version  byte (codecVersion)
//	metaLen  uvarint, the length of meta
//	meta     flags byte, status, Key, Route, Host, URL, Tags, Groups, Vary, Header,
//	         RequestTime, ResponseTime, Freshness, StaleWhileRevalidate,
//	         StaleIfError, Seq, Upstream (only with flagUpstream), len(Body)
//	body     raw bytes, exactly len(Body) of them
//
// Strings are a uvarint length and the bytes; lists of strings a uvarint
// count and the strings; the header a uvarint count of names, each name
// followed by its list of values. Times are unix nanoseconds as varints
// (present only when their flag is set: a zero time is not encoded), and
// durations varints. The version byte changes whenever the layout does, so
// entries written by another version decode as an error (a miss), never as
// garbage. Entries of the previous version (0xC2, without URL) are still
// read, their URL taken from their readable key, so that an upgrade does
// not empty the cache. Upstream is behind a flag rather than a new
// version: entries written before it decode (without an upstream), and a
// version that does not know the flag refuses the entries that carry it.

// codecVersion is the first byte of every encoded entry.
const codecVersion = 0xC3

// codecVersionNoURL is the layout before URL was added.
const codecVersionNoURL = 0xC2

// Flags in the first byte of meta.
const (
	// flagRetiredHeadOnly marked entries filled by a HEAD, which are no
	// longer stored (a HEAD miss is fetched as GET). It is never written;
	// entries written before still carry it, and decode with it ignored.
	flagRetiredHeadOnly = 1 << iota
	flagMustRevalidate
	flagRequestTime
	flagResponseTime
	flagUpstream

	flagsKnown = flagRetiredHeadOnly | flagMustRevalidate | flagRequestTime | flagResponseTime | flagUpstream
)

// maxStatus bounds the decoded status code (RFC 9110 §15: three digits).
const maxStatus = 999

// Encode returns the binary form of e, which Decode reads back. Times
// outside the years 1678–2262 (the range of int64 unix nanoseconds) do not
// survive the round trip; monotonic clock readings and locations are dropped.
func Encode(e *Entry) []byte {
	var flags byte
	if e.MustRevalidate {
		flags |= flagMustRevalidate
	}
	if !e.RequestTime.IsZero() {
		flags |= flagRequestTime
	}
	if !e.ResponseTime.IsZero() {
		flags |= flagResponseTime
	}
	if e.Upstream != "" {
		flags |= flagUpstream
	}

	meta := metaSize(e)
	buf := make([]byte, 0, 1+binary.MaxVarintLen64+meta+len(e.Body))
	buf = append(buf, codecVersion)
	buf = binary.AppendUvarint(buf, uint64(meta))
	start := len(buf)

	buf = append(buf, flags)
	buf = binary.AppendUvarint(buf, uint64(e.Status))
	buf = appendString(buf, e.Key)
	buf = appendString(buf, e.Route)
	buf = appendString(buf, e.Host)
	buf = appendString(buf, e.URL)
	buf = appendStrings(buf, e.Tags)
	buf = appendStrings(buf, e.Groups)
	buf = appendStrings(buf, e.Vary)
	buf = binary.AppendUvarint(buf, uint64(len(e.Header)))
	for name, values := range e.Header {
		buf = appendString(buf, name)
		buf = appendStrings(buf, values)
	}
	if flags&flagRequestTime != 0 {
		buf = binary.AppendVarint(buf, e.RequestTime.UnixNano())
	}
	if flags&flagResponseTime != 0 {
		buf = binary.AppendVarint(buf, e.ResponseTime.UnixNano())
	}
	buf = binary.AppendVarint(buf, int64(e.Freshness))
	buf = binary.AppendVarint(buf, int64(e.StaleWhileRevalidate))
	buf = binary.AppendVarint(buf, int64(e.StaleIfError))
	buf = binary.AppendUvarint(buf, e.Seq)
	if flags&flagUpstream != 0 {
		buf = appendString(buf, e.Upstream)
	}
	buf = binary.AppendUvarint(buf, uint64(len(e.Body)))
	if len(buf)-start != meta {
		panic(fmt.Sprintf("store: encode: meta is %d bytes, computed %d", len(buf)-start, meta))
	}
	return append(buf, e.Body...)
}

// metaSize is the exact length of the meta section Encode writes for e.
func metaSize(e *Entry) int {
	n := 1 + uvarintLen(uint64(e.Status)) +
		stringSize(e.Key) + stringSize(e.Route) + stringSize(e.Host) + stringSize(e.URL) +
		stringsSize(e.Tags) + stringsSize(e.Groups) + stringsSize(e.Vary) +
		uvarintLen(uint64(len(e.Header)))
	for name, values := range e.Header {
		n += stringSize(name) + stringsSize(values)
	}
	if !e.RequestTime.IsZero() {
		n += varintLen(e.RequestTime.UnixNano())
	}
	if !e.ResponseTime.IsZero() {
		n += varintLen(e.ResponseTime.UnixNano())
	}
	n += varintLen(int64(e.Freshness)) + varintLen(int64(e.StaleWhileRevalidate)) +
		varintLen(int64(e.StaleIfError)) + uvarintLen(e.Seq) + uvarintLen(uint64(len(e.Body)))
	if e.Upstream != "" {
		n += stringSize(e.Upstream)
	}
	return n
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func appendStrings(buf []byte, ss []string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(ss)))
	for _, s := range ss {
		buf = appendString(buf, s)
	}
	return buf
}

func stringSize(s string) int { return uvarintLen(uint64(len(s))) + len(s) }

func stringsSize(ss []string) int {
	n := uvarintLen(uint64(len(ss)))
	for _, s := range ss {
		n += stringSize(s)
	}
	return n
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func varintLen(x int64) int {
	ux := uint64(x) << 1
	if x < 0 {
		ux = ^ux
	}
	return uvarintLen(ux)
}

// errTruncated reports input that ends before the field it is reading.
var errTruncated = errors.New("truncated")

// Decode reads an entry written by Encode. It returns an error, never
// panics, on input that is not exactly one encoded entry: an unknown
// version, a truncated field, a length beyond the input or trailing bytes.
//
// The returned entry's Body aliases b (no copy of the body is made), so b
// must not be modified or reused afterwards; the strings of the entry are
// copied, all at once, out of b. The Redis store decodes the fresh []byte
// each GET returns, which nothing else holds, so aliasing saves a copy of
// every body read from Redis. A caller that reuses b copies it first.
func Decode(b []byte) (*Entry, error) {
	if len(b) == 0 {
		return nil, errors.New("store: decode: empty input")
	}
	if b[0] != codecVersion && b[0] != codecVersionNoURL {
		return nil, fmt.Errorf("store: decode: unknown version byte 0x%02x (want 0x%02x)", b[0], codecVersion)
	}
	metaLen, n := binary.Uvarint(b[1:])
	if n <= 0 {
		return nil, errors.New("store: decode: meta length: truncated or overflowing")
	}
	start := 1 + n
	if metaLen > uint64(len(b)-start) {
		return nil, fmt.Errorf("store: decode: meta length %d beyond the %d bytes left", metaLen, len(b)-start)
	}
	bodyStart := start + int(metaLen)
	// One string holds every string of the entry; fields are substrings of it.
	d := decoder{s: string(b[start:bodyStart]), noURL: b[0] == codecVersionNoURL}
	e, bodyLen, err := d.entry()
	if err != nil {
		return nil, fmt.Errorf("store: decode: at meta offset %d: %w", d.off, err)
	}
	if left := len(b) - bodyStart; bodyLen != uint64(left) {
		return nil, fmt.Errorf("store: decode: body length %d, but %d bytes follow the meta", bodyLen, left)
	}
	if bodyLen > 0 {
		e.Body = b[bodyStart:len(b):len(b)]
	}
	return e, nil
}

// decoder reads the meta section of an encoded entry.
type decoder struct {
	s   string
	off int
	// noURL: the entry was written by the previous version, without URL.
	noURL bool
}

func (d *decoder) entry() (*Entry, uint64, error) {
	if d.off >= len(d.s) {
		return nil, 0, fmt.Errorf("flags: %w", errTruncated)
	}
	flags := d.s[d.off]
	d.off++
	if flags&^flagsKnown != 0 {
		return nil, 0, fmt.Errorf("unknown flags 0x%02x", flags)
	}
	e := &Entry{MustRevalidate: flags&flagMustRevalidate != 0}
	status, err := d.uvarint("status")
	if err != nil {
		return nil, 0, err
	}
	if status > maxStatus {
		return nil, 0, fmt.Errorf("status %d above %d", status, maxStatus)
	}
	e.Status = int(status)
	if e.Key, err = d.string("key"); err != nil {
		return nil, 0, err
	}
	if e.Route, err = d.string("route"); err != nil {
		return nil, 0, err
	}
	if e.Host, err = d.string("host"); err != nil {
		return nil, 0, err
	}
	if d.noURL {
		e.URL = policy.URLOfReadableKey(e.Key)
	} else if e.URL, err = d.string("url"); err != nil {
		return nil, 0, err
	}
	if e.Tags, err = d.strings("tags", nil); err != nil {
		return nil, 0, err
	}
	if e.Groups, err = d.strings("groups", nil); err != nil {
		return nil, 0, err
	}
	if e.Vary, err = d.strings("vary", nil); err != nil {
		return nil, 0, err
	}
	if e.Header, err = d.header(); err != nil {
		return nil, 0, err
	}
	if flags&flagRequestTime != 0 {
		ns, err := d.varint("request time")
		if err != nil {
			return nil, 0, err
		}
		e.RequestTime = time.Unix(0, ns)
	}
	if flags&flagResponseTime != 0 {
		ns, err := d.varint("response time")
		if err != nil {
			return nil, 0, err
		}
		e.ResponseTime = time.Unix(0, ns)
	}
	for _, f := range []struct {
		name string
		dst  *time.Duration
	}{
		{"freshness", &e.Freshness},
		{"stale-while-revalidate", &e.StaleWhileRevalidate},
		{"stale-if-error", &e.StaleIfError},
	} {
		v, err := d.varint(f.name)
		if err != nil {
			return nil, 0, err
		}
		*f.dst = time.Duration(v)
	}
	if e.Seq, err = d.uvarint("seq"); err != nil {
		return nil, 0, err
	}
	if flags&flagUpstream != 0 {
		if e.Upstream, err = d.string("upstream"); err != nil {
			return nil, 0, err
		}
	}
	bodyLen, err := d.uvarint("body length")
	if err != nil {
		return nil, 0, err
	}
	if d.off != len(d.s) {
		return nil, 0, fmt.Errorf("%d bytes after the last field", len(d.s)-d.off)
	}
	return e, bodyLen, nil
}

func (d *decoder) uvarint(field string) (uint64, error) {
	var x uint64
	var shift uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if d.off >= len(d.s) {
			return 0, fmt.Errorf("%s: %w", field, errTruncated)
		}
		c := d.s[d.off]
		d.off++
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break
			}
			return x | uint64(c)<<shift, nil
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, fmt.Errorf("%s: varint overflows 64 bits", field)
}

func (d *decoder) varint(field string) (int64, error) {
	ux, err := d.uvarint(field)
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x, err
}

// count reads a length or count that cannot exceed the bytes left, since
// every element takes at least minSize bytes.
func (d *decoder) count(field string, minSize int) (int, error) {
	n, err := d.uvarint(field)
	if err != nil {
		return 0, err
	}
	if left := len(d.s) - d.off; n > uint64(left/minSize) {
		return 0, fmt.Errorf("%s: %d beyond the %d bytes left", field, n, left)
	}
	return int(n), nil
}

func (d *decoder) string(field string) (string, error) {
	n, err := d.count(field, 1)
	if err != nil {
		return "", err
	}
	s := d.s[d.off : d.off+n]
	d.off += n
	return s, nil
}

// strings reads a list of strings into backing when it has room (so that
// the values of a header share one allocation), else into a new slice. An
// empty list is nil.
func (d *decoder) strings(field string, backing *[]string) ([]string, error) {
	n, err := d.count(field, 1)
	if err != nil || n == 0 {
		return nil, err
	}
	var ss []string
	if backing != nil && cap(*backing)-len(*backing) >= n {
		l := len(*backing)
		*backing = (*backing)[:l+n]
		ss = (*backing)[l : l+n : l+n]
	} else {
		ss = make([]string, n)
	}
	for i := range ss {
		if ss[i], err = d.string(field); err != nil {
			return nil, err
		}
	}
	return ss, nil
}

func (d *decoder) header() (http.Header, error) {
	// A name takes at least 2 bytes: its length and its count of values.
	n, err := d.count("header", 2)
	if err != nil || n == 0 {
		return nil, err
	}
	h := make(http.Header, n)
	// Most fields have one value: one backing array serves them all.
	backing := make([]string, 0, n)
	for range n {
		name, err := d.string("header name")
		if err != nil {
			return nil, err
		}
		if _, dup := h[name]; dup {
			return nil, fmt.Errorf("header %q twice", name)
		}
		values, err := d.strings("header values", &backing)
		if err != nil {
			return nil, err
		}
		h[name] = values
	}
	return h, nil
}
