// Package demo is a small origin server to try cachegate against, and the
// origin its end-to-end tests and benchmarks run before. Every path says
// by its name how it caches, and the server counts the requests it gets.
package demo

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Origin is the demo origin: an http.Handler that counts requests per path.
type Origin struct {
	mu    sync.Mutex
	count map[string]int
}

// New returns an Origin with no requests counted.
func New() *Origin { return &Origin{count: make(map[string]int)} }

// Count returns how many requests the origin got for path.
func (o *Origin) Count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.count[path]
}

// Total returns how many requests the origin got in all.
func (o *Origin) Total() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, c := range o.count {
		n += c
	}
	return n
}

// ServeHTTP answers by path:
//
//	/                     an HTML page, fresh for 10s
//	/time                 the time, fresh for 5s (watch Age grow)
//	/max-age/N/...        fresh for N seconds, with an ETag
//	/no-store/...         Cache-Control: no-store
//	/private/...          Cache-Control: private
//	/cookie/...           fresh for 60s but with Set-Cookie
//	/slow/MS/...          fresh for 60s, answered after MS milliseconds
//	/bytes/N/...          N bytes, fresh for 60s
//	/status/CODE/...      that status, no freshness
//
// A query parameter "tag" is sent back as Surrogate-Key, and "cc"
// replaces the Cache-Control the path would send.
func (o *Origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.count[r.URL.Path]++
	n := o.count[r.URL.Path]
	o.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if tag := r.URL.Query().Get("tag"); tag != "" {
		h.Set("Surrogate-Key", tag)
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	arg := func() int {
		if len(parts) < 2 {
			return 0
		}
		v, _ := strconv.Atoi(parts[1])
		return v
	}
	body := fmt.Sprintf("%s %s: response %d from the demo origin at %s\n",
		r.Method, r.URL.RequestURI(), n, time.Now().UTC().Format(time.RFC3339Nano))
	switch parts[0] {
	case "":
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=10")
		body = "<!doctype html><title>cachegate demo</title><p>" + body + "</p>\n"
	case "time":
		h.Set("Cache-Control", "max-age=5")
	case "max-age":
		h.Set("Cache-Control", "max-age="+strconv.Itoa(arg()))
		h.Set("ETag", `"`+strconv.Itoa(n)+`"`)
	case "no-store":
		h.Set("Cache-Control", "no-store")
	case "private":
		h.Set("Cache-Control", "private, max-age=60")
	case "cookie":
		h.Set("Cache-Control", "max-age=60")
		h.Set("Set-Cookie", "session="+strconv.Itoa(n)+"; Path=/")
	case "slow":
		select {
		case <-time.After(time.Duration(arg()) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		h.Set("Cache-Control", "max-age=60")
	case "bytes":
		h.Set("Cache-Control", "max-age=60")
		body = strings.Repeat("x", arg())
	case "status":
		code := arg()
		if code < 200 || code > 599 {
			code = http.StatusBadRequest
		}
		w.WriteHeader(code)
		fmt.Fprint(w, body)
		return
	}
	if cc := r.URL.Query().Get("cc"); cc != "" {
		h.Set("Cache-Control", cc)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	fmt.Fprint(w, body)
}
