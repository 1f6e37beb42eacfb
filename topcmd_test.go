package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/accesslog"
)

func TestTopCountsEachURLOverTheWindowOnly(t *testing.T) {
	w := newTopWindow(10*time.Second, 100)
	t0 := time.Unix(1000, 0)
	miss := func(uri string, originUS, bytes int64) *accesslog.Record {
		return &accesslog.Record{Host: "site.test", URI: uri, Cache: "miss", OriginMicros: originUS, Bytes: bytes}
	}
	w.add(t0, miss("/old", 100, 1))
	w.add(t0.Add(5*time.Second), miss("/a", 1000, 10))
	w.add(t0.Add(6*time.Second), miss("/a", 1000, 10))
	w.add(t0.Add(6*time.Second), &accesslog.Record{Host: "site.test", URI: "/a", Cache: "hit", Bytes: 10})
	w.add(t0.Add(7*time.Second), miss("/b", 9000, 1))
	rows := w.top(t0.Add(9*time.Second), "misses", 10)
	if len(rows) != 3 || rows[0].URL != "site.test/a" || rows[0].Misses != 2 || rows[0].Requests != 3 || rows[0].Bytes != 30 {
		t.Fatalf("top by misses within the window = %+v", rows)
	}
	if rows := w.top(t0.Add(9*time.Second), "origin", 1); len(rows) != 1 || rows[0].URL != "site.test/b" {
		t.Errorf("top 1 by origin time = %+v, want /b", rows)
	}
	// Ten seconds on, /old has left the window and is forgotten.
	rows = w.top(t0.Add(10*time.Second+time.Millisecond), "misses", 10)
	for _, r := range rows {
		if r.URL == "site.test/old" {
			t.Errorf("/old still counted after the window slid past it: %+v", rows)
		}
	}
	if _, ok := w.urls["site.test/old"]; ok {
		t.Error("/old is still held after the window slid past it")
	}
}

func TestTopTracksABoundedNumberOfURLs(t *testing.T) {
	w := newTopWindow(10*time.Second, 5)
	now := time.Unix(1000, 0)
	for i := range 1000 {
		w.add(now, &accesslog.Record{URI: fmt.Sprintf("/%d", i), Cache: "miss"})
	}
	if len(w.urls) > 6 {
		t.Errorf("%d URLs held, want at most 5 and the row of the others", len(w.urls))
	}
	rows := w.top(now, "misses", 1)
	if rows[0].URL != otherURLs || rows[0].Misses != 995 {
		t.Errorf("top = %+v, want the 995 others first", rows)
	}
}

func TestTopAndLogTextShowNoControlCharacters(t *testing.T) {
	rec := &accesslog.Record{Host: "site.test", URI: "/\x1b[2J\x1b]0;pwned\x07", Method: "GET", Route: "r\n", RequestID: "id"}
	line := string(appendText(nil, rec))
	var out bytes.Buffer
	drawTop(&out, topReport{URLs: []topRow{{URL: rec.Host + rec.URI}}}, false)
	for _, s := range []string{line, out.String()} {
		if strings.ContainsAny(s, "\x1b\x07") {
			t.Errorf("output carries control characters: %q", s)
		}
	}
	if strings.Count(line, "\n") != 1 {
		t.Errorf("text line %q is not one line", line)
	}
	if n := strings.Count(out.String(), "\n"); n != 4 {
		t.Errorf("top's block %q has %d lines, want a title, a heading, one row and a blank line", out.String(), n)
	}
}

func TestTopAndLogRefuseBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"top", "-by", "size"}, {"top", "-window", "0s"}, {"top", "-json"}, {"top", "extra"},
		{"log", "-json", "-ncsa"}, {"log", "-status", "6xx"}, {"log", "extra"},
	} {
		var stderr bytes.Buffer
		if code := run(append(args, "-admin", "http://127.0.0.1:9", "-token", "t"), &bytes.Buffer{}, &stderr); code != 2 {
			t.Errorf("cachegate %q: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
}

func TestTopHoldsABoundedLengthOfEachURL(t *testing.T) {
	w := newTopWindow(10*time.Second, 100)
	now := time.Unix(1000, 0)
	long := strings.Repeat("a", 64<<10) // a hostile client's URIs, each as long as a header may be
	for i := range 100 {
		w.add(now, &accesslog.Record{Host: "site.test", URI: fmt.Sprintf("/%s/%d", long, i), Cache: "miss"})
	}
	held := 0
	for url := range w.urls {
		held += len(url)
	}
	if held > 100*(topMaxURLLen+8) {
		t.Errorf("top holds %d bytes of URLs for 100 URLs, want each cut to %d bytes", held, topMaxURLLen)
	}
}
