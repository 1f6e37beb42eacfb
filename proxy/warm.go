package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxSitemapBytes bounds a sitemap read while warming.
const maxSitemapBytes = 32 << 20

// Warm fetches the config's warm URLs and the URLs of its sitemaps through
// the proxy itself, the same collapsed fill path as clients use, at start
// and then every warm.interval; it returns when ctx ends (WarmOnce is one
// run). A reload starts the wait for the next run anew with the new
// warm.interval, so that setting one where it was 0 (only at start) starts
// periodic runs. onResult, when set, is told of every fetch ("ok" or
// "error").
func (p *Proxy) Warm(ctx context.Context, onResult func(result string)) {
	for {
		p.WarmOnce(ctx, onResult)
		if !p.waitWarmInterval(ctx) {
			return
		}
	}
}

// waitWarmInterval waits warm.interval, as the config says when the wait
// starts and again after each reload (0: until a reload sets one), and
// reports whether it elapsed before ctx ended.
func (p *Proxy) waitWarmInterval(ctx context.Context) bool {
	for {
		reloaded := p.reloaded()
		interval := p.state.Load().cfg.Warm.Interval.D()
		if interval <= 0 {
			select {
			case <-ctx.Done():
				return false
			case <-reloaded:
				continue
			}
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
			return true
		case <-reloaded:
			t.Stop()
		}
	}
}

// WarmOnce runs one warm pass with the configured concurrency: the warm
// URLs and those of the sitemaps, through the cache. onResult is as for
// Warm.
func (p *Proxy) WarmOnce(ctx context.Context, onResult func(string)) {
	cfg := p.state.Load().cfg.Warm
	urls := append([]string(nil), cfg.URLs...)
	for _, sm := range cfg.Sitemaps {
		found, err := p.sitemapURLs(ctx, sm, 1)
		if err != nil {
			p.log.Warn("warm: sitemap", "url", sm, "err", err)
			continue
		}
		urls = append(urls, found...)
	}
	if len(urls) == 0 {
		return
	}
	start := time.Now()
	p.log.Info("warm: starting", "urls", len(urls), "concurrency", cfg.Concurrency)
	var done, failed atomic.Int64
	sem := make(chan struct{}, max(cfg.Concurrency, 1))
	var wg sync.WaitGroup
	for _, u := range urls {
		select {
		case <-ctx.Done():
		case sem <- struct{}{}:
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			w, err := p.warmGet(ctx, u)
			result := "ok"
			if err != nil || w.status >= 500 {
				result = "error"
				failed.Add(1)
				p.log.Warn("warm: fetch failed", "url", u, "status", w.status, "err", err)
			}
			if onResult != nil {
				onResult(result)
			}
			if n := done.Add(1); n%100 == 0 {
				p.log.Info("warm: progress", "done", n, "of", len(urls))
			}
		}()
	}
	wg.Wait()
	p.log.Info("warm: done", "urls", done.Load(), "failed", failed.Load(), "took", time.Since(start).Round(time.Millisecond))
}

// warmGet serves a GET of the absolute URL u through the proxy.
func (p *Proxy) warmGet(ctx context.Context, u string) (*capturedResponse, error) {
	w := &capturedResponse{h: http.Header{}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return w, err
	}
	if req.URL.Scheme == "https" {
		req.TLS = &tls.ConnectionState{}
	}
	req.RemoteAddr = "127.0.0.1:0"
	req.RequestURI = req.URL.RequestURI()
	req.Header.Set("User-Agent", "cachegate-warm")
	p.ServeHTTP(w, req)
	return w, nil
}

// sitemapURLs reads a sitemap (RFC-less but sitemaps.org 0.9): the locs of
// a urlset, or of the sitemaps of a sitemap index, followed depth levels.
func (p *Proxy) sitemapURLs(ctx context.Context, sitemap string, depth int) ([]string, error) {
	w, err := p.warmGet(ctx, sitemap)
	if err != nil {
		return nil, err
	}
	if w.status != http.StatusOK {
		return nil, &url.Error{Op: "GET", URL: sitemap, Err: errStatus(w.status)}
	}
	var doc struct {
		XMLName  xml.Name
		URLs     []string `xml:"url>loc"`
		Sitemaps []string `xml:"sitemap>loc"`
	}
	if err := xml.Unmarshal(w.body.Bytes(), &doc); err != nil {
		return nil, err
	}
	urls := trimAll(doc.URLs)
	if depth > 0 {
		for _, sm := range trimAll(doc.Sitemaps) {
			more, err := p.sitemapURLs(ctx, sm, depth-1)
			if err != nil {
				p.log.Warn("warm: sitemap", "url", sm, "err", err)
				continue
			}
			urls = append(urls, more...)
		}
	}
	return urls, nil
}

func trimAll(ss []string) []string {
	out := ss[:0]
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

type errStatus int

func (e errStatus) Error() string { return "status " + http.StatusText(int(e)) }

// capturedResponse is the ResponseWriter of a warm fetch: it keeps the
// status and, bounded, the body (for sitemaps).
type capturedResponse struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (c *capturedResponse) Header() http.Header { return c.h }

func (c *capturedResponse) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

func (c *capturedResponse) Write(b []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	if c.body.Len()+len(b) <= maxSitemapBytes {
		c.body.Write(b)
	}
	return len(b), nil
}
