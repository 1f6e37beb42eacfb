package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/accesslog"
	"github.com/cachegate/cachegate/metrics"
)

// nopWriter is a ResponseWriter that keeps a header map and drops bodies,
// as a server's would after writing to the socket.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// SetWriteDeadline accepts the deadline, as a server's ResponseWriter does
// (client_timeouts.write).
func (w *nopWriter) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkHit measures the hit path of the proxy, in process, for 1 KiB
// and 16 KiB bodies on the memory store: what a hit allocates and costs
// without the network.
func BenchmarkHit(b *testing.B) { benchmarkHit(b, false) }

// BenchmarkHitWithMetrics is BenchmarkHit with metrics recorded, as in
// production: what the metrics cost a hit.
func BenchmarkHitWithMetrics(b *testing.B) { benchmarkHit(b, true) }

func benchmarkHit(b *testing.B, withMetrics bool) {
	for _, size := range []int{1024, 16384} {
		b.Run(strings.Repeat("x", 0)+map[int]string{1024: "1KiB", 16384: "16KiB"}[size], func(b *testing.B) {
			body := strings.Repeat("x", size)
			o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=3600")
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("ETag", `"v1"`)
				io.WriteString(w, body)
			}))
			defer o.Close()
			c := newCache(&testing.T{}, &origin{Server: o}, "")
			if withMetrics {
				c.p.metrics = metrics.New("bench")
			}
			req := httptest.NewRequest(http.MethodGet, "http://site.test/page?b=2&a=1", nil)
			req.Header.Set("Accept-Encoding", "gzip, br")
			req.Header.Set("User-Agent", "bench")
			w := &nopWriter{h: http.Header{}}
			c.p.ServeHTTP(w, req)
			if !strings.Contains(w.h.Get("Cache-Status"), "stored") {
				b.Fatalf("not stored: %v", w.h)
			}
			benchHits(b, c, w, req)
		})
	}
}

// BenchmarkHitLogged is BenchmarkHit's 1 KiB hit with the access log on
// (JSON to io.Discard through accesslog.Log's queue and writer goroutine)
// and with a live viewer attached that reads everything: what a record
// costs a request.
func BenchmarkHitLogged(b *testing.B) {
	for _, mode := range []string{"off", "access_log", "live_viewer"} {
		b.Run(mode, func(b *testing.B) {
			o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=3600")
				io.WriteString(w, strings.Repeat("x", 1024))
			}))
			defer o.Close()
			opts, extra := Options{}, ""
			switch mode {
			case "access_log":
				l, err := accesslog.Open(accesslog.Settings{Enabled: true, Format: accesslog.FormatJSON, Output: "stdout"}, io.Discard, io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				opts.AccessLog, extra = l, "access_log: {enabled: true}\n"
			case "live_viewer":
				hub := accesslog.NewHub(accesslog.MaxViewers, accesslog.ViewerBuffer)
				v, _ := hub.Watch(accesslog.Filter{})
				defer v.Close()
				go func() {
					for range v.Records() {
					}
				}()
				opts.Live = hub
			}
			c := newCacheWith(&testing.T{}, &origin{Server: o}, extra, opts)
			req := httptest.NewRequest(http.MethodGet, "http://site.test/page", nil)
			req.Header.Set("User-Agent", "bench")
			w := &nopWriter{h: http.Header{}}
			c.p.ServeHTTP(w, req)
			benchHits(b, c, w, req)
		})
	}
}

// benchHits serves req, a hit, through c for the benchmark's loop, each
// into a fresh header map as a server's would be.
func benchHits(b *testing.B, c *cache, w *nopWriter, req *http.Request) {
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.h = make(http.Header, 8)
		c.p.ServeHTTP(w, req)
	}
	b.StopTimer()
	if !strings.Contains(w.h.Get("Cache-Status"), "hit") {
		b.Fatalf("not a hit: %v", w.h)
	}
}
