package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

// bodyOrigin is an origin that reads every request body to the end and
// counts the requests it is in the middle of and those it received.
type bodyOrigin struct {
	URL              string
	inFlight, served atomic.Int64
}

func startBodyOrigin(t *testing.T) *bodyOrigin {
	t.Helper()
	o := &bodyOrigin{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.served.Add(1)
		o.inFlight.Add(1)
		defer o.inFlight.Add(-1)
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return // the proxy gave up on the body
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	o.URL = srv.URL
	return o
}

// waitIdle waits until the origin holds no request open.
func (o *bodyOrigin) waitIdle(t *testing.T) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "the origin holds no request open after the client was refused", func() bool {
		return o.inFlight.Load() == 0
	})
}

// rawRequest writes head (a request line and fields, without the blank
// line) to the instance, then calls body with the connection, and returns
// the status line of the answer.
func rawRequest(t *testing.T, in *instance, head string, body func(net.Conn)) string {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(in.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, head+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if body != nil {
		go body(conn)
	}
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	return strings.TrimSpace(status)
}

const limitsConfig = `client_limits:
  body_idle_timeout: 1s
  body_min_rate: 100
  max_header_bytes: 8KiB
  max_body_bytes: 1KiB
`

func TestATrickledBodyIsAnswered408AndTheOriginIsLetGo(t *testing.T) {
	o := startBodyOrigin(t)
	in := startInstance(t, setup{origin: o.URL, extra: limitsConfig})
	// 10 bytes a second, each within the idle timeout, but far below the
	// minimum rate of 100 bytes a second.
	status := rawRequest(t, in, "POST /upload HTTP/1.1\r\nHost: site.test\r\nContent-Length: 1000", func(c net.Conn) {
		for range 1000 {
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	if !strings.HasPrefix(status, "HTTP/1.1 408") {
		t.Errorf("a trickled body got %q, want 408 Request Timeout", status)
	}
	o.waitIdle(t)
	if got := in.metric(`cachegate_client_errors_total{reason="body-timeout"}`); got != "1" {
		t.Errorf("body-timeout counted %q, want 1", got)
	}
}

func TestAStalledBodyIsAnswered408(t *testing.T) {
	o := startBodyOrigin(t)
	in := startInstance(t, setup{origin: o.URL, extra: limitsConfig})
	status := rawRequest(t, in, "POST /upload HTTP/1.1\r\nHost: site.test\r\nContent-Length: 100", func(c net.Conn) {
		c.Write([]byte("only this"))
	})
	if !strings.HasPrefix(status, "HTTP/1.1 408") {
		t.Errorf("a stalled body got %q, want 408 Request Timeout", status)
	}
	o.waitIdle(t)
}

func TestAHeaderOverTheLimitIsAnswered431(t *testing.T) {
	o := startBodyOrigin(t)
	in := startInstance(t, setup{origin: o.URL, extra: limitsConfig})
	big := strings.Repeat("a", 10<<10)
	status := rawRequest(t, in, "GET /page HTTP/1.1\r\nHost: site.test\r\nX-Big: "+big, nil)
	if !strings.HasPrefix(status, "HTTP/1.1 431") {
		t.Errorf("a 10 KiB header got %q, want 431 Request Header Fields Too Large", status)
	}
	// Far over: refused by the server before cachegate reads it.
	huge := strings.Repeat("a", 100<<10)
	status = rawRequest(t, in, "GET /page HTTP/1.1\r\nHost: site.test\r\nX-Big: "+huge, nil)
	if !strings.HasPrefix(status, "HTTP/1.1 431") {
		t.Errorf("a 100 KiB header got %q, want 431", status)
	}
	if n := o.served.Load(); n != 0 {
		t.Errorf("the origin saw %d requests, want none", n)
	}
	if got := in.metric(`cachegate_client_errors_total{reason="header-too-large"}`); got != "1" {
		t.Errorf("header-too-large counted %q, want 1 (the one within net/http's 4 KiB slack)", got)
	}
}

func TestABodyOverTheLimitIsAnswered413(t *testing.T) {
	o := startBodyOrigin(t)
	in := startInstance(t, setup{origin: o.URL, extra: limitsConfig})
	// Announced: refused before the origin is asked.
	status := rawRequest(t, in, "POST /upload HTTP/1.1\r\nHost: site.test\r\nContent-Length: 2000", nil)
	if !strings.HasPrefix(status, "HTTP/1.1 413") {
		t.Errorf("Content-Length 2000 got %q, want 413 Content Too Large", status)
	}
	if n := o.served.Load(); n != 0 {
		t.Errorf("the origin saw %d requests for an announced oversize body, want none", n)
	}
	// Chunked: cut when it passes the limit.
	status = rawRequest(t, in, "POST /upload HTTP/1.1\r\nHost: site.test\r\nTransfer-Encoding: chunked", func(c net.Conn) {
		chunk := strings.Repeat("y", 500)
		for range 5 {
			if _, err := fmt.Fprintf(c, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
				return
			}
		}
		io.WriteString(c, "0\r\n\r\n")
	})
	if !strings.HasPrefix(status, "HTTP/1.1 413") {
		t.Errorf("a 2500-byte chunked body got %q, want 413 Content Too Large", status)
	}
	o.waitIdle(t)
	if got := in.metric(`cachegate_client_errors_total{reason="body-too-large"}`); got != "2" {
		t.Errorf("body-too-large counted %q, want 2", got)
	}
}

// heapInuse forces a collection in the instance and returns its heap in
// use, in bytes (go_memstats_heap_inuse_bytes).
func (in *instance) heapInuse() float64 {
	in.t.Helper()
	in.admin(http.MethodGet, "/debug/pprof/heap?gc=1")
	v, err := strconv.ParseFloat(in.metric("go_memstats_heap_inuse_bytes"), 64)
	if err != nil {
		in.t.Fatalf("go_memstats_heap_inuse_bytes: %v", err)
	}
	return v
}

// redisUsedMemory is INFO memory's used_memory of the package's Redis.
func redisUsedMemory(t *testing.T) float64 {
	t.Helper()
	c := testutil.RedisClient(t)
	defer c.Close()
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return n
		}
	}
	t.Fatal("INFO memory has no used_memory")
	return 0
}

// hostileLoad sends requests made by request(n) for n = 0, 1, ... from 8
// workers for d (at most 500,000 requests) and returns how many were sent.
func hostileLoad(in *instance, d time.Duration, request func(n int64) *http.Request) int64 {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				n := next.Add(1)
				if n > 500_000 {
					return
				}
				resp, err := client.Do(request(n))
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	return min(next.Load(), 500_000)
}

func TestHostileTrafficToDistinctURLsDoesNotGrowMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("a 12-second load")
	}
	o := startOrigin(t)
	prefix := testutil.UniquePrefix(t)
	in := startInstance(t, setup{origin: o.URL, backend: "tiered", prefix: prefix, extra: `cache:
  collapse: {hit_for_pass: 2s}
`})
	post := func(tag string) func(int64) *http.Request {
		return func(n int64) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/no-store/%s-%d", in.URL, tag, n), strings.NewReader("form=1"))
			req.Host = siteHost
			return req
		}
	}
	get := func(tag string) func(int64) *http.Request {
		return func(n int64) *http.Request {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/no-store/%s-%d", in.URL, tag, n), nil)
			req.Host = siteHost
			return req
		}
	}
	// Warm up: pools, buffers and maps reach their working size.
	hostileLoad(in, time.Second, post("warm"))
	hostileLoad(in, time.Second, get("warm"))
	time.Sleep(3 * time.Second) // the warm-up's hit-for-pass keys expire
	heap0, redis0 := in.heapInuse(), redisUsedMemory(t)

	posts := hostileLoad(in, 6*time.Second, post("p"))
	gets := hostileLoad(in, 6*time.Second, get("g"))

	t.Logf("right after the load: heap in use grew %.2f MiB, Redis used_memory %.2f MiB",
		(in.heapInuse()-heap0)/(1<<20), (redisUsedMemory(t)-redis0)/(1<<20))
	// Hit-for-pass lasts 2s (in Redis too): what is retained is what is
	// left once it has passed, at most what is held now. Polled from now
	// on: growth already under the bounds while hit-for-pass keys still
	// live is under them once they are gone.
	var heapGrew, redisGrew float64
	for deadline := time.Now().Add(23 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		heapGrew, redisGrew = in.heapInuse()-heap0, redisUsedMemory(t)-redis0
		if (heapGrew < 8<<20 && redisGrew < 4<<20) || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("%d POSTs and %d uncacheable GETs to distinct URLs, retained: heap in use grew %.2f MiB, Redis used_memory %.2f MiB",
		posts, gets, heapGrew/(1<<20), redisGrew/(1<<20))
	if heapGrew >= 8<<20 {
		t.Errorf("retained heap grew %.2f MiB, want less than 8 MiB", heapGrew/(1<<20))
	}
	if redisGrew >= 4<<20 {
		t.Errorf("Redis used_memory grew %.2f MiB, want less than 4 MiB", redisGrew/(1<<20))
	}
	// POSTs to URLs never cached have nothing to invalidate: no marks.
	if n := urlMarks(t, prefix); n != 0 {
		t.Errorf("Redis holds %d URL purge marks after POSTs to URLs never cached, want none", n)
	}
}

func TestAPostToACachedURLInvalidatesItOnEveryInstance(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := startOrigin(t)
	ins := threeInstancesOn(t, "tiered", o, "")
	const path = "/max-age/600/article"
	// Every instance holds the entry, in L1 too (admitted at its second
	// request).
	var before string
	for _, in := range ins {
		in.get(path)
		resp, body := in.get(path)
		if !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
			t.Fatalf("before the POST: Cache-Status %q, want a hit", resp.Header.Get("Cache-Status"))
		}
		before = body
	}
	if resp, _ := ins[1].do(http.MethodPost, path, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	// RFC 9111 §4.4: no instance serves the entry stored before the POST
	// (the first to be asked fetches anew; the others may serve that). The
	// mark reaches the other instances by pub/sub, without the POST
	// waiting for them: poll, bounded.
	for i, in := range ins {
		testutil.Eventually(t, 5*time.Second, fmt.Sprintf("instance %d stops serving the entry stored before a POST to its URL", i), func() bool {
			_, body := in.get(path)
			return body != before
		})
	}
}

func TestClientNoCacheCannotSendRequestsToTheOriginByDefault(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL})
	const path = "/max-age/600/front"
	for i := range 100 {
		h := http.Header{"Pragma": {"no-cache"}}
		if i%2 == 1 {
			h = http.Header{"Cache-Control": {"no-cache, max-age=0"}}
		}
		in.do(http.MethodGet, path, h)
	}
	if n := o.Count(path); n != 1 {
		t.Errorf("100 requests with Pragma: no-cache or Cache-Control: no-cache caused %d origin requests, want 1 (request_directives: ignore)", n)
	}
}
