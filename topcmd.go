package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cachegate/cachegate/accesslog"
	"github.com/cachegate/cachegate/metrics"
)

// Bounds of cachegate top (README, "cachegate top").
const (
	// topMaxURLs is the most distinct URLs tracked over the window; the
	// requests for URLs past it are summed in one row, otherURLs.
	topMaxURLs = 10000
	// topSlots is how many parts the window slides by: a URL holds one
	// count per slot, so memory is bounded by topMaxURLs × topSlots.
	topSlots = 10
	// topMaxURLLen is the longest URL tracked: longer ones are cut (and
	// those that share the cut counted together), so that memory is
	// bounded in bytes too, whatever URIs clients send.
	topMaxURLLen = 1024
	// maxTopWindow bounds -window.
	maxTopWindow = time.Hour
)

// otherURLs is the row of the URLs past topMaxURLs.
const otherURLs = "(other URLs)"

// topOrders are the -by values.
var topOrders = []string{"misses", "origin", "bytes"}

// topStats are one URL's counts over a slot or the window.
type topStats struct {
	Requests int64 `json:"requests"`
	Misses   int64 `json:"misses"`
	OriginUS int64 `json:"origin_us"`
	Bytes    int64 `json:"bytes"`
}

func (s *topStats) add(o topStats) {
	s.Requests += o.Requests
	s.Misses += o.Misses
	s.OriginUS += o.OriginUS
	s.Bytes += o.Bytes
}

// topURL is one URL's counts per slot; slot[i] counts the slot whose
// number is epoch[i].
type topURL struct {
	slot  [topSlots]topStats
	epoch [topSlots]int64
}

// topWindow counts the records of the last window by URL, in topSlots
// slots that expire one at a time. Its clock is the caller's (now).
type topWindow struct {
	mu     sync.Mutex
	window time.Duration
	urls   map[string]*topURL
	max    int
}

func newTopWindow(window time.Duration, max int) *topWindow {
	return &topWindow{window: window, urls: map[string]*topURL{}, max: max}
}

// slotOf is the number of the slot now falls in.
func (w *topWindow) slotOf(now time.Time) int64 {
	return now.UnixNano() / int64(w.window/topSlots)
}

// add counts rec at now.
func (w *topWindow) add(now time.Time, rec *accesslog.Record) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := rec.Host + rec.URI
	if len(key) > topMaxURLLen {
		key = strings.ToValidUTF8(key[:topMaxURLLen], "") + "…"
	}
	u := w.urls[key]
	if u == nil {
		if len(w.urls) >= w.max {
			key = otherURLs
			u = w.urls[key]
		}
		if u == nil {
			u = &topURL{}
			w.urls[key] = u
		}
	}
	n := w.slotOf(now)
	i := n % topSlots
	if u.epoch[i] != n {
		u.epoch[i], u.slot[i] = n, topStats{}
	}
	s := topStats{Requests: 1, OriginUS: rec.OriginMicros, Bytes: rec.Bytes}
	if rec.Cache == metrics.CacheMiss {
		s.Misses = 1
	}
	u.slot[i].add(s)
}

// topRow is a URL and its counts over the window.
type topRow struct {
	URL string `json:"url"`
	topStats
}

// top returns the n URLs with the most of by over the window ending at
// now, and forgets the URLs with nothing in it.
func (w *topWindow) top(now time.Time, by string, n int) []topRow {
	w.mu.Lock()
	defer w.mu.Unlock()
	oldest := w.slotOf(now) - topSlots + 1
	var rows []topRow
	for url, u := range w.urls {
		row := topRow{URL: url}
		for i, e := range u.epoch {
			if e >= oldest {
				row.add(u.slot[i])
			}
		}
		if row.Requests == 0 {
			delete(w.urls, url)
			continue
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b topRow) int {
		if d := b.value(by) - a.value(by); d != 0 {
			return sign(d)
		}
		return strings.Compare(a.URL, b.URL)
	})
	return rows[:min(n, len(rows))]
}

// value is what by orders rows by.
func (r topRow) value(by string) int64 {
	switch by {
	case "origin":
		return r.OriginUS
	case "bytes":
		return r.Bytes
	}
	return r.Misses
}

func sign(d int64) int {
	if d < 0 {
		return -1
	}
	return 1
}

// topReport is what cachegate top -once -json prints.
type topReport struct {
	By      string   `json:"by"`
	Window  string   `json:"window"`
	Records int64    `json:"records"`
	Dropped uint64   `json:"dropped"`
	URLs    []topRow `json:"urls"`
}

// runTop is `cachegate top`: the URLs with the most misses, origin time
// or bytes over a sliding window, from the live stream, redrawn every
// second (a screen on a terminal, blocks of lines otherwise), or printed
// once after one window (-once).
func runTop(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cachegate top", flag.ContinueOnError)
	fs.SetOutput(stderr)
	by := fs.String("by", "misses", "order by `what`: misses, origin (time) or bytes")
	window := fs.Duration("window", 30*time.Second, "the sliding `window` counted")
	rows := fs.Int("n", 20, "how many `URLs` to show")
	once := fs.Bool("once", false, "count for one window, print once and exit")
	asJSON := fs.Bool("json", false, "with -once: print JSON")
	filter := filterFlags(fs)
	client := adminFlags(fs)
	if code := parseCommand(fs, args, stderr); code != 0 {
		return code
	}
	if msg := checkTopFlags(*by, *window, *rows, *once, *asJSON); msg != "" {
		fmt.Fprintln(stderr, "cachegate top:", msg)
		return 2
	}
	f, err := filter()
	if err != nil {
		return usageError(fs, stderr, err)
	}
	c, err := client()
	if err != nil {
		return usageError(fs, stderr, err)
	}
	ctx, stop := interrupted()
	defer stop()
	w := newTopWindow(*window, topMaxURLs)
	var mu sync.Mutex
	var records int64
	var dropped uint64
	s := liveStream{
		record: func(rec *accesslog.Record, _ []byte) {
			w.add(time.Now(), rec)
			mu.Lock()
			records++
			mu.Unlock()
		},
		dropped: func(n uint64) { mu.Lock(); dropped += n; mu.Unlock() },
	}
	streamErr := make(chan error, 1)
	go func() { streamErr <- s.watch(ctx, c, f) }()
	report := func() topReport {
		mu.Lock()
		defer mu.Unlock()
		return topReport{By: *by, Window: window.String(), Records: records, Dropped: dropped, URLs: w.top(time.Now(), *by, *rows)}
	}
	if *once {
		select {
		case <-time.After(*window):
		case err := <-streamErr:
			return topStreamEnded(err, stderr)
		case <-ctx.Done():
		}
		return printTopOnce(stdout, report(), *asJSON)
	}
	screen := isTerminal(stdout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			drawTop(stdout, report(), screen)
		case err := <-streamErr:
			return topStreamEnded(err, stderr)
		case <-ctx.Done():
			return 0
		}
	}
}

// checkTopFlags says what is wrong with top's flags, or "".
func checkTopFlags(by string, window time.Duration, rows int, once, asJSON bool) string {
	switch {
	case !slices.Contains(topOrders, by):
		return fmt.Sprintf("-by must be misses, origin or bytes, got %q", by)
	case window < time.Second || window > maxTopWindow:
		return fmt.Sprintf("-window must be 1s to %s, got %s", maxTopWindow, window)
	case rows < 1:
		return fmt.Sprintf("-n must be at least 1, got %d", rows)
	case asJSON && !once:
		return "-json needs -once"
	}
	return ""
}

// topStreamEnded reports why the live stream ended before top did.
func topStreamEnded(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "cachegate top:", err)
	return 1
}

// printTopOnce prints r as JSON, or as lines.
func printTopOnce(stdout io.Writer, r topReport, asJSON bool) int {
	if !asJSON {
		drawTop(stdout, r, false)
		return 0
	}
	if r.URLs == nil {
		r.URLs = []topRow{}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	enc.Encode(r)
	return 0
}

// drawTop writes r: on a terminal (screen), over the previous screen;
// otherwise as a block of lines after the previous one.
func drawTop(stdout io.Writer, r topReport, screen bool) {
	var out strings.Builder
	fmt.Fprintf(&out, "cachegate top  %s  by %s over %s  records %d  dropped %d\n",
		time.Now().Format("15:04:05"), r.By, r.Window, r.Records, r.Dropped)
	fmt.Fprintf(&out, "%8s %8s %12s %12s  %s\n", "MISSES", "REQS", "ORIGIN_MS", "BYTES", "URL")
	for _, row := range r.URLs {
		fmt.Fprintf(&out, "%8d %8d %12.1f %12d  %s\n", row.Misses, row.Requests,
			float64(row.OriginUS)/1000, row.Bytes, printable(row.URL))
	}
	if screen {
		redraw(stdout, out.String())
		return
	}
	out.WriteString("\n")
	io.WriteString(stdout, out.String())
}
