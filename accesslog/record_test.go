package accesslog

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func sampleRecord() *Record {
	return &Record{
		Time: time.Date(2026, 11, 27, 21, 30, 5, 123456000, time.UTC), RequestID: "0123456789abcdef",
		Client: "192.0.2.1", Method: "GET", URI: "/a?b=1", Proto: "HTTP/1.1", Host: "site.test",
		Status: 200, Bytes: 1234, Referer: "https://r.test/", UserAgent: "curl/8", Route: "pages",
		Cache: "hit", CacheStatus: "cachegate; hit; ttl=60", Backend: "web", Upstream: "10.0.0.1:80",
		OriginMicros: 1500, TotalMicros: 2500,
	}
}

func TestCombinedIsTheNCSACombinedFormatAndNothingElse(t *testing.T) {
	got := string(AppendCombined(nil, sampleRecord()))
	want := `192.0.2.1 - - [27/Nov/2026:21:30:05 +0000] "GET /a?b=1 HTTP/1.1" 200 1234 "https://r.test/" "curl/8"` + "\n"
	if got != want {
		t.Errorf("combined line:\n got %q\nwant %q", got, want)
	}
}

func TestCombinedWritesADashForAnEmptyRefererUserAgentAndClient(t *testing.T) {
	r := sampleRecord()
	r.Referer, r.UserAgent, r.Client = "", "", ""
	got := string(AppendCombined(nil, r))
	if !strings.HasPrefix(got, "- - - [") || !strings.HasSuffix(got, `"-" "-"`+"\n") {
		t.Errorf("combined line with empty fields = %q, want - for each", got)
	}
}

// hostile are values a client controls that try to end a field or a line.
var hostile = []string{"a\"b", "a\nb", "a\r\nb", "a\\\"", "\x00\x1b[2J", "é\xff", `"} {"status":1`}

func TestNoHeaderValueCanBreakACombinedLine(t *testing.T) {
	for _, v := range hostile {
		r := sampleRecord()
		r.Referer, r.UserAgent, r.URI, r.Method = v, v, "/"+v, v
		line := string(AppendCombined(nil, r))
		if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") || strings.ContainsAny(line, "\r\x00\x1b") {
			t.Errorf("value %q: the line is not one line: %q", v, line)
		}
		// Three quoted fields: exactly six unescaped quotes.
		if n := strings.Count(line, `"`); n != 6 {
			t.Errorf("value %q: %d quotes in %q, want 6", v, n, line)
		}
	}
}

func TestNoHeaderValueCanBreakAJSONLine(t *testing.T) {
	for _, v := range hostile {
		r := sampleRecord()
		r.Referer, r.UserAgent, r.URI, r.RequestID = v, v, v, v
		line := AppendJSON(nil, r)
		if bytes.Count(line, []byte("\n")) != 1 || !bytes.HasSuffix(line, []byte("\n")) {
			t.Errorf("value %q: the line is not one line: %q", v, line)
		}
		var back map[string]any
		if err := json.Unmarshal(line, &back); err != nil {
			t.Fatalf("value %q: not one JSON object: %v: %q", v, err, line)
		}
		if back["status"] != float64(200) || utf8.ValidString(v) && back["user_agent"] != v {
			t.Errorf("value %q: fields changed: %v", v, back)
		}
	}
}

func TestJSONFieldNamesAreTheDocumentedOnes(t *testing.T) {
	var back map[string]any
	if err := json.Unmarshal(AppendJSON(nil, sampleRecord()), &back); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"time", "request_id", "client", "method", "uri", "proto", "host", "status", "bytes",
		"referer", "user_agent", "route", "cache", "cache_status", "backend", "upstream", "origin_us", "total_us"} {
		if _, ok := back[name]; !ok {
			t.Errorf("no field %q in %v", name, back)
		}
	}
	if len(back) != 18 {
		t.Errorf("%d fields, want the 18 documented: %v", len(back), back)
	}
}

func TestRequestIDsAreSixteenHexDigitsAndDistinct(t *testing.T) {
	ids := NewIDs()
	seen := map[string]bool{}
	for range 10000 {
		id := ids.Next()
		if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("id %q is not 16 hex digits", id)
		}
		if seen[id] {
			t.Fatalf("id %q handed out twice", id)
		}
		seen[id] = true
	}
}

func TestValidRequestIDRefusesWhatCouldBreakALine(t *testing.T) {
	for _, id := range []string{"", "a b", "a\"b", "a\nb", "a\\b", strings.Repeat("x", 129), "é"} {
		if ValidRequestID(id) {
			t.Errorf("ValidRequestID(%q) = true", id)
		}
	}
	for _, id := range []string{"abc-123", "f47ac10b-58cc-4372-a567-0e02b2c3d479", strings.Repeat("x", 128)} {
		if !ValidRequestID(id) {
			t.Errorf("ValidRequestID(%q) = false", id)
		}
	}
}

// BenchmarkAppend is what the access log's goroutine spends formatting a
// record, per format.
func BenchmarkAppend(b *testing.B) {
	r := sampleRecord()
	for _, format := range []string{FormatJSON, FormatCombined} {
		b.Run(format, func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				buf = Append(buf[:0], format, r)
			}
		})
	}
}

func TestJSONRecordsEscapeTheC1ControlsATerminalWouldObey(t *testing.T) {
	uri := "/a\u009b31m\u0085b\u00a0c\u00e9"
	b := AppendJSON([]byte("prefix\u009b "), &Record{URI: uri, UserAgent: "x\u0080y"})
	line := b[len("prefix\u009b "):]
	if bytes.Contains(line, []byte{0xC2, 0x9B}) || bytes.Contains(line, []byte{0xC2, 0x85}) || bytes.Contains(line, []byte{0xC2, 0x80}) {
		t.Fatalf("a C1 control left raw in %q", line)
	}
	if !bytes.HasPrefix(b, []byte("prefix\u009b ")) {
		t.Fatalf("what was before the record changed: %q", b)
	}
	var back Record
	if err := json.Unmarshal(line, &back); err != nil || back.URI != uri || back.UserAgent != "x\u0080y" {
		t.Fatalf("round trip: %v, URI %q, User-Agent %q; want %q and %q", err, back.URI, back.UserAgent, uri, "x\u0080y")
	}
}
