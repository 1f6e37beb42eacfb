package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cachegate/cachegate/accesslog"
)

// filterFlags adds the live stream's filters to fs (-route, -host,
// -prefix, -status, -cache, -min-duration); the function it returns, called
// after fs.Parse, is the filter, checked as the server will check it.
func filterFlags(fs *flag.FlagSet) func() (accesslog.Filter, error) {
	route := fs.String("route", "", "only requests of this `route`")
	host := fs.String("host", "", "only requests for this `host`")
	prefix := fs.String("prefix", "", "only requests whose URI starts with this `prefix`")
	status := fs.String("status", "", "only this `status` (404) or class (5xx)")
	cache := fs.String("cache", "", "only this cache `state` (hit, miss, stale, revalidated, bypass, collapsed, error)")
	minDuration := fs.Duration("min-duration", 0, "only requests that took at least this `duration`")
	return func() (accesslog.Filter, error) {
		q := accesslog.Filter{Route: *route, Host: *host, Prefix: *prefix, Cache: *cache, MinDuration: *minDuration}.Query()
		if *status != "" {
			q.Set(accesslog.ParamStatus, *status)
		}
		return accesslog.ParseFilter(q)
	}
}

// liveStream is what a command reads from GET /live: each record with
// its JSON line, and the count of records the server dropped for it.
type liveStream struct {
	record  func(rec *accesslog.Record, line []byte)
	dropped func(n uint64)
}

// maxLiveLine bounds a line of the stream (a record with a 64 KiB URI and
// user agent fits).
const maxLiveLine = 1 << 20

// watch reads GET /live with filter f until ctx ends (nil) or the stream
// does (an error).
func (s liveStream) watch(ctx context.Context, c *adminClient, f accesslog.Filter) error {
	path := "/live"
	if q := f.Query().Encode(); q != "" {
		path += "?" + q
	}
	resp, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxLiveLine)
	for sc.Scan() {
		s.line(sc.Bytes())
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("live stream: %w", err)
	}
	return fmt.Errorf("live stream: the server ended it")
}

// line hands one line of the stream to s.
func (s liveStream) line(line []byte) {
	if bytes.HasPrefix(line, []byte(`{"dropped":`)) {
		var d struct{ Dropped uint64 }
		if json.Unmarshal(line, &d) == nil {
			s.dropped(d.Dropped)
		}
		return
	}
	var rec accesslog.Record
	if json.Unmarshal(line, &rec) == nil {
		s.record(&rec, line)
	}
}

// runLog is `cachegate log`: the live request records of a running
// instance, filtered by the server, as text lines, JSON lines (-json) or
// the combined log format (-ncsa), until interrupted.
func runLog(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cachegate log", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print each record as a JSON line (the access log's fields)")
	ncsa := fs.Bool("ncsa", false, "print each record in the NCSA combined log format")
	filter := filterFlags(fs)
	client := adminFlags(fs)
	if code := parseCommand(fs, args, stderr); code != 0 {
		return code
	}
	if *asJSON && *ncsa {
		fmt.Fprintln(stderr, "cachegate log: -json and -ncsa exclude each other")
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
	out := bufio.NewWriter(stdout)
	var buf []byte
	s := liveStream{
		record: func(rec *accesslog.Record, line []byte) {
			switch {
			case *asJSON:
				buf = append(append(buf[:0], line...), '\n')
			case *ncsa:
				buf = accesslog.AppendCombined(buf[:0], rec)
			default:
				buf = appendText(buf[:0], rec)
			}
			out.Write(buf)
			out.Flush()
		},
		dropped: func(n uint64) {
			if *asJSON {
				fmt.Fprintf(out, "{\"dropped\":%d}\n", n)
				out.Flush()
			}
			fmt.Fprintf(stderr, "cachegate log: %d records dropped: this viewer did not keep up\n", n)
		},
	}
	if err := s.watch(ctx, c, f); err != nil {
		fmt.Fprintln(stderr, "cachegate log:", err)
		return 1
	}
	return 0
}

// appendText appends rec as one line for a person:
//
//	21:30:05.123 200 miss  GET site.test/a?b=1 1234B 2.5ms origin=1.5ms route=pages up=10.0.0.1:80 id=0123456789abcdef
//
// Control characters a client sent are shown as '?', so that a URI cannot
// move the cursor or clear the terminal.
func appendText(b []byte, r *accesslog.Record) []byte {
	b = r.Time.Local().AppendFormat(b, "15:04:05.000")
	b = fmt.Appendf(b, " %d %-11s %s %s %dB %s", r.Status, printable(r.Cache), printable(r.Method), printable(r.Host+r.URI), r.Bytes, micros(r.TotalMicros))
	if r.OriginMicros > 0 {
		b = fmt.Appendf(b, " origin=%s", micros(r.OriginMicros))
	}
	b = fmt.Appendf(b, " route=%s", printable(r.Route))
	if r.Upstream != "" {
		b = fmt.Appendf(b, " up=%s", printable(r.Upstream))
	}
	return fmt.Appendf(b, " id=%s\n", printable(r.RequestID))
}

// micros is a duration in µs written for a person (1.5ms).
func micros(us int64) string {
	return (time.Duration(us) * time.Microsecond).String()
}
