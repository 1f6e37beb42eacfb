package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

func TestStatShowsAFailedScrapeAndGoesOnWithTheNext(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 2 {
			http.Error(w, "restarting", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(statBefore))
	}))
	defer srv.Close()
	var out testutil.Buffer
	v := &statViewer{client: &adminClient{base: srv.URL, http: srv.Client()}, interval: 10 * time.Millisecond, out: &out, json: true}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- v.run(ctx, false) }()
	testutil.Eventually(t, 10*time.Second, "a view after the failed scrape", func() bool {
		return strings.Contains(out.String(), "requests_per_second")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run ended with %v after its context; want nil", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.Contains(lines[0], `"error"`) || !strings.Contains(lines[0], "503") {
		t.Errorf("first line %q, want the failed scrape's error", lines[0])
	}
}

func TestStatOnATerminalRedrawsInPlaceWithANSIHomeAndClearOnly(t *testing.T) {
	var out bytes.Buffer
	v := &statViewer{client: &adminClient{base: "http://x"}, interval: time.Second, out: &out, tty: true}
	st := computeStat(window{prev: scrapeOf(t, 0, statBefore), cur: scrapeOf(t, time.Second, statAfter)})
	if err := v.show(&st, nil); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.HasPrefix(s, "\x1b[H") || !strings.HasSuffix(s, "\x1b[J") || !strings.Contains(s, "\x1b[K\n") || !strings.Contains(s, "hit ratio 90.0%") {
		t.Errorf("terminal view %q: want home first, each line cleared to its end, the rest of the screen cleared last", s)
	}
	for _, esc := range strings.Split(s, "\x1b[")[1:] {
		if c := esc[0]; c != 'H' && c != 'K' && c != 'J' {
			t.Errorf("escape ESC[%c…: want only H, K and J", c)
		}
	}
}

func TestStatRefusesAMetricsAnswerLargerThanItsBound(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		line := []byte("# a hostile or broken instance that never stops answering\n")
		for written := 0; written <= statMaxScrape; written += len(line) {
			if _, err := w.Write(line); err != nil {
				return
			}
		}
		w.Write([]byte(statBefore))
	}))
	defer srv.Close()
	v := &statViewer{client: &adminClient{base: srv.URL, http: srv.Client()}}
	_, err := v.scrape(context.Background())
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("scrape of an answer over %d bytes: error %v, want it refused as larger than the bound", statMaxScrape, err)
	}
}
