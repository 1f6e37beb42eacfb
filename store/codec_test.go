package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sampleEntry is a typical response entry with a body of n bytes.
func sampleEntry(n int) *Entry {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)
	return &Entry{
		Key:    "https://example.com/articles/42?page=2",
		Route:  "articles",
		Host:   "example.com",
		URL:    "example.com/articles/42?page=2",
		Tags:   []string{"articles", "article-42"},
		Groups: []string{"scripts"},
		Vary:   []string{"Accept-Encoding"},
		Status: http.StatusOK,
		Header: http.Header{
			"Content-Type":     {"text/html; charset=utf-8"},
			"Cache-Control":    {"public, max-age=60"},
			"Etag":             {`"abc123"`},
			"Last-Modified":    {"Sun, 22 Nov 2026 09:00:00 GMT"},
			"Vary":             {"Accept-Encoding"},
			"Content-Encoding": {"gzip"},
			"Set-Cookie":       {"a=1", "b=2"},
		},
		Body:                 bytes.Repeat([]byte("0123456789abcdef"), n/16),
		RequestTime:          t0,
		ResponseTime:         t0.Add(35 * time.Millisecond),
		Freshness:            time.Minute,
		StaleWhileRevalidate: 30 * time.Second,
		StaleIfError:         time.Hour,
		Seq:                  1 << 40,
	}
}

// diffEntries describes how a and b differ, or returns "" when they are
// equal (nil and empty lists, headers and bodies are equal; times compare
// as instants).
func diffEntries(a, b *Entry) string {
	var d []string
	check := func(field string, x, y any) {
		if fmt.Sprint(x) != fmt.Sprint(y) {
			d = append(d, fmt.Sprintf("%s: %q vs %q", field, x, y))
		}
	}
	// Every field by name, so that a field added to Entry is compared too;
	// those below need their own comparison, and RedisDown is not stored.
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := range va.NumField() {
		switch name := va.Type().Field(i).Name; name {
		case "RequestTime", "ResponseTime", "Header", "Body", "RedisDown":
		default:
			check(name, va.Field(i).Interface(), vb.Field(i).Interface())
		}
	}
	if !a.RequestTime.Equal(b.RequestTime) {
		d = append(d, fmt.Sprintf("RequestTime: %v vs %v", a.RequestTime, b.RequestTime))
	}
	if !a.ResponseTime.Equal(b.ResponseTime) {
		d = append(d, fmt.Sprintf("ResponseTime: %v vs %v", a.ResponseTime, b.ResponseTime))
	}
	if len(a.Header) != len(b.Header) {
		d = append(d, fmt.Sprintf("Header: %d names vs %d", len(a.Header), len(b.Header)))
	}
	for name, va := range a.Header {
		vb, ok := b.Header[name]
		if !ok {
			d = append(d, fmt.Sprintf("Header %q: missing", name))
			continue
		}
		check("Header "+name, va, vb)
	}
	if !bytes.Equal(a.Body, b.Body) {
		d = append(d, fmt.Sprintf("Body: %d bytes vs %d", len(a.Body), len(b.Body)))
	}
	return strings.Join(d, "; ")
}

func TestCodecRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		e    *Entry
	}{
		{"zero entry", &Entry{}},
		{"vary marker", &Entry{
			Key:  "https://example.com/",
			Host: "example.com",
			Vary: []string{"Accept-Encoding", "Accept-Language"},
			Seq:  7,
		}},
		{"response with vary", sampleEntry(100)},
		{"empty header", &Entry{Status: 204, Header: http.Header{}, Freshness: time.Second}},
		{"header field without values", &Entry{Status: 200, Header: http.Header{"X-Empty": nil}}},
		{"empty header value", &Entry{Status: 200, Header: http.Header{"X-Empty": {""}}}},
		{"must revalidate", &Entry{Status: 200, MustRevalidate: true}},
		{"negative durations", &Entry{Status: 200, Freshness: -time.Second, StaleIfError: -1}},
		{"times before 1970", &Entry{Status: 200, RequestTime: time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC)}},
		{"unix epoch is not the zero time", &Entry{Status: 200, ResponseTime: time.Unix(0, 0)}},
		{"big body", sampleEntry(4 << 20)},
		{"long strings", &Entry{Status: 200, Key: strings.Repeat("k", 70000), Tags: []string{strings.Repeat("t", 300)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Encode(tt.e)
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(Encode(e)): %v", err)
			}
			if d := diffEntries(tt.e, got); d != "" {
				t.Errorf("round trip changed the entry: %s", d)
			}
			if got.RequestTime.IsZero() != tt.e.RequestTime.IsZero() || got.ResponseTime.IsZero() != tt.e.ResponseTime.IsZero() {
				t.Errorf("zero times: got %v/%v, want %v/%v", got.RequestTime, got.ResponseTime, tt.e.RequestTime, tt.e.ResponseTime)
			}
		})
	}
}

func TestDecodeRejectsTruncatedAndOversizedInput(t *testing.T) {
	b := Encode(sampleEntry(64))
	for n := range len(b) {
		if _, err := Decode(b[:n]); err == nil {
			t.Fatalf("Decode of the first %d of %d bytes: no error, want one", n, len(b))
		} else if !strings.HasPrefix(err.Error(), "store: decode: ") {
			t.Fatalf("Decode error %q does not start with %q", err, "store: decode: ")
		}
	}
	if _, err := Decode(append(b[:len(b):len(b)], 'x')); err == nil {
		t.Errorf("Decode with a trailing byte: no error, want one")
	}
	bad := bytes.Clone(b)
	bad[0] = 0x01
	if _, err := Decode(bad); err == nil {
		t.Errorf("Decode with version byte 0x01: no error, want one")
	}
	huge := []byte{codecVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}
	if _, err := Decode(huge); err == nil {
		t.Errorf("Decode with a meta length of 2^64-1: no error, want one")
	}
}

func TestDecodeBodyAliasesInput(t *testing.T) {
	b := Encode(&Entry{Status: 200, Body: []byte("hello")})
	e, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if &e.Body[0] != &b[len(b)-5] {
		t.Errorf("Decode copied the body; the documented contract is that it aliases the input")
	}
	if cap(e.Body) != len(e.Body) {
		t.Errorf("body capacity %d > length %d: an append could write past the entry", cap(e.Body), len(e.Body))
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(&Entry{}))
	f.Add(Encode(&Entry{Vary: []string{"Accept"}}))
	f.Add(Encode(sampleEntry(32)))
	f.Add(Encode(&Entry{Status: 200, Header: http.Header{"X": nil}, ResponseTime: time.Unix(0, 0)}))
	f.Add([]byte{codecVersion, 0x80})
	f.Add(encodeWithoutURL(&Entry{Key: "http://h/a?b\nX:1", Status: 200}))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Decode(Encode(e))
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(b))): %v", err)
		}
		if d := diffEntries(e, again); d != "" {
			t.Fatalf("Decode(Encode(e)) differs from e: %s", d)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	e := sampleEntry(16 << 10)
	b.ReportAllocs()
	b.SetBytes(int64(len(Encode(e))))
	for b.Loop() {
		Encode(e)
	}
}

func BenchmarkDecode(b *testing.B) {
	buf := Encode(sampleEntry(16 << 10))
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// encodeWithoutURL encodes e (whose meta must stay under 128 bytes) as the
// previous codec version did, without the URL field.
func encodeWithoutURL(e *Entry) []byte {
	e.URL = ""
	b := Encode(e)
	if b[1] >= 0x80 {
		panic("encodeWithoutURL: meta too long for the test")
	}
	at := 2 + 1 + uvarintLen(uint64(e.Status)) + stringSize(e.Key) + stringSize(e.Route) + stringSize(e.Host)
	old := append([]byte{codecVersionNoURL, b[1] - 1}, b[2:at]...)
	return append(old, b[at+1:]...)
}

func TestEntriesOfThePreviousVersionDecodeWithTheirURL(t *testing.T) {
	old := encodeWithoutURL(&Entry{Key: "https://example.com:8443/a/b?x=1\nAccept-Language:de", Route: "r", Host: "example.com", Status: 200, Body: []byte("body")})
	e, err := Decode(old)
	if err != nil {
		t.Fatalf("an entry of version 0x%02x: %v", codecVersionNoURL, err)
	}
	if want := "example.com:8443/a/b?x=1"; e.URL != want || string(e.Body) != "body" || e.Route != "r" {
		t.Errorf("decoded URL %q, body %q, route %q; want URL %q from its key, body and route intact", e.URL, e.Body, e.Route, want)
	}
}

func TestEntriesCarryingTheRetiredHeadOnlyFlagStillDecode(t *testing.T) {
	b := Encode(&Entry{Key: "https://example.com/", Status: 200, MustRevalidate: true, Body: []byte("body")})
	_, n := binary.Uvarint(b[1:])
	b[1+n] |= flagRetiredHeadOnly // as an earlier version wrote an entry filled by a HEAD
	e, err := Decode(b)
	if err != nil {
		t.Fatalf("an entry with the retired head-only flag: %v; want it decoded, the flag ignored", err)
	}
	if !e.MustRevalidate || string(e.Body) != "body" || e.Key != "https://example.com/" {
		t.Errorf("decoded %+v; want the entry's other flags, key and body intact", e)
	}
}

func TestTheUpstreamRoundTripsAndEntriesWrittenWithoutItStillDecode(t *testing.T) {
	e := sampleEntry(64)
	e.Upstream = "10.0.0.2:8080"
	got, err := Decode(Encode(e))
	if err != nil || diffEntries(e, got) != "" {
		t.Fatalf("round trip with an upstream: %v %s", err, diffEntries(e, got))
	}
	// An entry written before upstreams were recorded: this version's
	// layout without the flag and the field, byte for byte.
	before := sampleEntry(64)
	b := Encode(before)
	_, n := binary.Uvarint(b[1:])
	if b[1+n]&flagUpstream != 0 {
		t.Fatal("an entry without an upstream carries the upstream flag")
	}
	if got, err := Decode(b); err != nil || got.Upstream != "" || diffEntries(before, got) != "" {
		t.Errorf("an entry without an upstream: %v %s", err, diffEntries(before, got))
	}
}
