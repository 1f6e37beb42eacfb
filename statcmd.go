package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// statScrapeTimeout bounds one GET /metrics: an instance that does not
// answer shows as an error line, not as a frozen screen.
const statScrapeTimeout = 5 * time.Second

// statMaxScrape bounds the answer of one GET /metrics: an instance (or
// whatever answers at its address) that streams for ever must not grow
// the viewer's memory until the scrape's timeout. An instance's metrics
// are a few hundred kilobytes.
const statMaxScrape = 16 << 20

// statMaxRoutes is how many route rows a terminal view shows (the busiest
// first); JSON has them all.
const statMaxRoutes = 20

// runStat is `cachegate stat`: a view of a running instance refreshed every
// -interval, like varnishstat, computed from its GET /metrics (see
// stat.go). On a terminal the view is redrawn in place (ANSI home and
// clear, nothing more); otherwise one block is printed per interval. -once
// prints one view over one interval and exits; -json prints JSON objects,
// one a line.
func runStat(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cachegate stat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	interval := fs.Duration("interval", time.Second, "time between views, and between the two scrapes of -once")
	once := fs.Bool("once", false, "print one view, over one interval, and exit")
	asJSON := fs.Bool("json", false, "print each view as one line of JSON")
	client := adminFlags(fs)
	if code := parseCommand(fs, args, stderr); code != 0 {
		return code
	}
	if *interval <= 0 {
		fmt.Fprintf(stderr, "cachegate stat: -interval %s: must be positive, e.g. 1s\n", *interval)
		return 2
	}
	c, err := client()
	if err != nil {
		return usageError(fs, stderr, err)
	}
	ctx, stop := interrupted()
	defer stop()
	v := &statViewer{client: c, interval: *interval, out: stdout, json: *asJSON, tty: !*asJSON && isTerminal(stdout)}
	if err := v.run(ctx, *once); err != nil {
		fmt.Fprintln(stderr, "cachegate stat:", err)
		return 1
	}
	return 0
}

// statViewer scrapes an instance every interval and prints the view of
// each interval.
type statViewer struct {
	client   *adminClient
	interval time.Duration
	out      io.Writer
	json     bool
	tty      bool
}

// run shows views until ctx ends (or after one with once). The first
// scrape must succeed; a later failure is shown and the next interval
// tried again, so that the view survives an instance's restart.
func (v *statViewer) run(ctx context.Context, once bool) error {
	prev, err := v.scrape(ctx)
	if err != nil {
		return err
	}
	tick := time.NewTicker(v.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		cur, err := v.scrape(ctx)
		if err != nil {
			switch {
			case ctx.Err() != nil: // interrupted while scraping
				return nil
			case once:
				return err
			}
			v.show(nil, err)
			continue
		}
		st := computeStat(window{prev: prev, cur: cur})
		if err := v.show(&st, nil); err != nil {
			return err
		}
		if once {
			return nil
		}
		prev = cur
	}
}

// scrape reads GET /metrics once.
func (v *statViewer) scrape(ctx context.Context) (*scrape, error) {
	ctx, cancel := context.WithTimeout(ctx, statScrapeTimeout)
	defer cancel()
	resp, err := v.client.do(ctx, http.MethodGet, "/metrics", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body := &io.LimitedReader{R: resp.Body, N: statMaxScrape + 1}
	s, err := parseScrape(body, time.Now())
	if body.N == 0 {
		return nil, fmt.Errorf("GET /metrics: the answer is larger than %d MiB", statMaxScrape>>20)
	}
	return s, err
}

// show prints the view of st, or the scrape error err.
func (v *statViewer) show(st *Stat, scrapeErr error) error {
	if v.json {
		if scrapeErr != nil {
			return json.NewEncoder(v.out).Encode(map[string]string{"error": scrapeErr.Error()})
		}
		return json.NewEncoder(v.out).Encode(st)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "cachegate stat  %s  %s  every %s\n\n", v.client.base, time.Now().Format(time.DateTime), v.interval)
	if scrapeErr != nil {
		fmt.Fprintf(&b, "scrape failed: %v\n", scrapeErr)
	} else {
		renderStat(&b, st, v.tty)
	}
	if !v.tty {
		b.WriteString("\n")
		_, err := v.out.Write(b.Bytes())
		return err
	}
	return redraw(v.out, b.String())
}

// renderStat writes the text view of st. On a terminal (limit) at most
// statMaxRoutes routes are shown, the busiest first.
func renderStat(w io.Writer, st *Stat, limit bool) {
	fmt.Fprintf(w, "requests  %s   hit ratio %s   in flight %.0f   latency %s\n",
		perSecond(st.Requests), ratio(st.HitRatio), st.InFlight, latency(st.Latency))
	fmt.Fprintf(w, "by cache  %s\n", byLabel(st.ByCache))
	fmt.Fprintf(w, "origin    %s   %s   latency %s\n\n", perSecond(st.Origin.Requests), byLabel(st.Origin.ByClass), latency(st.Origin.Latency))

	routes := slices.Clone(st.Routes)
	slices.SortStableFunc(routes, func(a, b RouteStat) int { return cmp.Compare(b.Requests, a.Requests) })
	more := 0
	if limit && len(routes) > statMaxRoutes {
		more, routes = len(routes)-statMaxRoutes, routes[:statMaxRoutes]
	}
	fmt.Fprintf(w, "%-20s %10s %7s %9s %9s %10s\n", "ROUTE", "REQ/S", "HIT", "MEAN", "P99", "ORIGIN/S")
	for _, r := range routes {
		mean, p99 := "-", "-"
		if r.Latency != nil {
			mean, p99 = seconds(r.Latency.Mean), seconds(r.Latency.P99)
		}
		fmt.Fprintf(w, "%-20s %10.1f %7s %9s %9s %10.1f\n", r.Route, r.Requests, ratio(r.HitRatio), mean, p99, r.Origin)
	}
	if more > 0 {
		fmt.Fprintf(w, "… %d more routes (-json lists them all)\n", more)
	}

	fmt.Fprintf(w, "\n%-8s %11s %11s %6s %9s %s\n", "STORE", "USED", "CAPACITY", "FILL", "OBJECTS", "EVICTIONS/S")
	for _, l := range st.Store {
		capacity, fill, objects := "no limit", "-", "-"
		if l.Capacity > 0 {
			capacity, fill = size(l.Capacity), fmt.Sprintf("%.1f%%", 100*l.Bytes/l.Capacity)
		}
		if l.Objects != nil {
			objects = fmt.Sprintf("%.0f", *l.Objects)
		}
		fmt.Fprintf(w, "%-8s %11s %11s %6s %9s %s\n", l.Layer, size(l.Bytes), capacity, fill, objects, byLabel(l.Evictions))
	}
	if st.Circuit != "" {
		fmt.Fprintf(w, "circuit  %s\n", st.Circuit)
	}

	if len(st.Backends) > 0 {
		fmt.Fprintf(w, "\n%-16s %-24s %-8s %8s %8s\n", "BACKEND", "UPSTREAM", "HEALTH", "REQ/S", "ERR/S")
		for _, u := range st.Backends {
			health := "sick"
			if u.Healthy {
				health = "healthy"
			}
			fmt.Fprintf(w, "%-16s %-24s %-8s %8.1f %8.1f\n", u.Backend, u.Upstream, health, u.Requests, u.Errors)
		}
	}
	fmt.Fprintf(w, "\npurges    %s items   active marks %.0f   pending invalidations %.0f\n",
		perSecond(st.Purges.Items), st.Purges.Marks, st.Purges.Pending)
}

func perSecond(r float64) string { return fmt.Sprintf("%.1f/s", r) }

// ratio is r as a percentage, "-" when there is none.
func ratio(r *float64) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100**r)
}

// byLabel lists the non-zero rates of m as "name rate", sorted by name;
// "-" when all are zero.
func byLabel(m map[string]float64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] != 0 {
			parts = append(parts, fmt.Sprintf("%s %s", k, perSecond(m[k])))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "  ")
}

// latency is "mean X p99 Y", "-" when nothing was observed.
func latency(l *Latency) string {
	if l == nil {
		return "-"
	}
	return "mean " + seconds(l.Mean) + " p99 " + seconds(l.P99)
}

// seconds formats s seconds in the unit that suits it.
func seconds(s float64) string {
	switch {
	case s < 1e-3:
		return fmt.Sprintf("%.0fµs", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.1fms", s*1e3)
	}
	return fmt.Sprintf("%.2fs", s)
}

// size formats n bytes in binary units.
func size(n float64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%.0f B", n)
	}
	for i, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		n /= unit
		if n < unit || i == 3 {
			return fmt.Sprintf("%.1f %s", n, u)
		}
	}
	return ""
}
