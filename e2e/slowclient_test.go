package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/internal/testutil"
)

// slowReader is a raw client that asks for path and then reads its
// response one byte a second, through a small receive buffer, as a
// hostile or very slow client would.
type slowReader struct {
	conn net.Conn
	// read counts the bytes read so far (headers included).
	read atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func startSlowReader(t *testing.T, in *instance, path string) *slowReader {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			// Before connecting, so that the advertised window stays small.
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(in.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, siteHost)
	s := &slowReader{conn: conn, stop: make(chan struct{}), done: make(chan struct{})}
	first := make(chan struct{})
	go func() {
		defer close(s.done)
		b := make([]byte, 1)
		for {
			if n, err := conn.Read(b); n == 0 || err != nil {
				return
			}
			if s.read.Add(1) == 1 {
				close(first)
			}
			select {
			case <-s.stop:
				return
			case <-time.After(time.Second):
			}
		}
	}()
	select {
	case <-first:
	case <-time.After(30 * time.Second):
		t.Fatal("the slow reader got no response in 30s")
	}
	return s
}

// drain stops the pacing and reads what is left as fast as possible; it
// returns how many bytes were read in all.
func (s *slowReader) drain() int64 {
	close(s.stop)
	<-s.done
	n, _ := io.Copy(io.Discard, s.conn)
	return s.read.Load() + n
}

func TestASlowReaderNeitherPacesTheFillNorHoldsUpTheRequestsWaitingForIt(t *testing.T) {
	o := startOrigin(t)
	const size = 8_000_000
	path := fmt.Sprintf("/bytes/%d/cold", size)
	in := startInstance(t, setup{origin: o.URL, extra: "client_timeouts:\n  write: 2s\n"})

	slow := startSlowReader(t, in, path)
	start := time.Now()
	var wg sync.WaitGroup
	lengths, statuses := make([]int, 5), make([]int, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, in.URL+path, nil)
			req.Host = siteHost
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("client %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			n, err := io.Copy(io.Discard, resp.Body)
			if err != nil {
				t.Errorf("client %d: reading the body: %v", i, err)
			}
			statuses[i], lengths[i] = resp.StatusCode, int(n)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for i := range 5 {
		if statuses[i] != 200 || lengths[i] != size {
			t.Errorf("client %d: %d with %d bytes, want 200 with %d", i, statuses[i], lengths[i], size)
		}
	}
	if n := o.Count(path); n != 1 {
		t.Errorf("origin saw %d requests, want 1: the waiters gave up on a fill paced by the slow reader", n)
	}
	// At one byte a second, the slow reader has read about elapsed-seconds
	// bytes of 8 MB: the five cannot have been waiting for it.
	if got := slow.read.Load(); got >= size {
		t.Fatalf("the slow reader read %d bytes already; the test is not testing a slow reader", got)
	}
	t.Logf("5 clients got %d bytes each in %v while the slow reader had read %d bytes", size, elapsed, slow.read.Load())

	// The slow reader is cut after client_timeouts.write, and the fill it
	// caused was stored all the same.
	in.waitLog("client stopped reading")
	if got := slow.drain(); got >= size {
		t.Errorf("the slow reader got %d bytes, want it cut before the end of the %d byte body", got, size)
	}
	resp, body := in.get(path)
	if len(body) != size || !strings.Contains(resp.Header.Get("Cache-Status"), "hit") || o.Count(path) != 1 {
		t.Errorf("after the slow reader was cut: %d bytes, Cache-Status %q, origin requests %d; want a hit of %d bytes and still 1 origin request",
			len(body), resp.Header.Get("Cache-Status"), o.Count(path), size)
	}
}

// revalidatingOrigin answers with an ETag and max-age=0, and 304 to a
// request that carries that ETag.
func revalidatingOrigin(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=0, stale-if-error=60")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "body of "+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCacheStatusSaysStoredOnlyWhenTheRedisWriteSucceeded(t *testing.T) {
	t.Parallel() // its own redis-server or prefix; mostly waiting on faults
	rs := testutil.OwnRedis(t)
	o := revalidatingOrigin(t)
	in := startInstanceOn(t, rs.Addr(), setup{origin: o.URL, backend: "redis", prefix: testutil.UniquePrefix(t)})

	resp, _ := in.get("/before")
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "; stored") {
		t.Fatalf("a miss while Redis takes writes: Cache-Status %q, want stored", cs)
	}
	rc := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	defer rc.Close()
	ctx := context.Background()
	if err := rc.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	resp, body := in.get("/after")
	if cs := resp.Header.Get("Cache-Status"); strings.Contains(cs, "stored") || resp.StatusCode != 200 || body != "body of /after" {
		t.Errorf("a miss while Redis refuses writes (OOM): %d %q, Cache-Status %q; want the body, without stored (RFC 9211 §2.5)", resp.StatusCode, body, cs)
	}
	// A 304 that refreshes the stale /before cannot be written either.
	resp, body = in.get("/before")
	if cs := resp.Header.Get("Cache-Status"); strings.Contains(cs, "stored") || !strings.Contains(cs, "fwd-status=304") || body != "body of /before" {
		t.Errorf("a revalidation while Redis refuses writes: %q, Cache-Status %q; want the stored body after a 304, without stored", body, cs)
	}
}

// startInstanceOn is startInstance with the store on the Redis at addr.
func startInstanceOn(t *testing.T, addr string, s setup) *instance {
	t.Helper()
	s.cluster = []string{addr}
	return startInstance(t, s)
}

// rawExchange sends request on a new connection to in, then half-closes
// it when halfClose is set, and returns the status line and body read
// until the server closes.
func rawExchange(t *testing.T, in *instance, request string, halfClose bool) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(in.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, request)
	if halfClose {
		conn.(*net.TCPConn).CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestAClientThatHalfClosesAfterItsRequestGetsTheWholeResponse(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL})
	// The demo origin's /slow/ answers nothing when its request is
	// cancelled before the delay is over.
	for _, tc := range []struct{ name, request, want string }{
		{"cacheable GET", "GET /slow/300/half HTTP/1.1\r\nHost: " + siteHost + "\r\n\r\n", "GET /slow/300/half: response 1"},
		{"POST with a body", "POST /slow/300/half-post HTTP/1.1\r\nHost: " + siteHost + "\r\nContent-Length: 3\r\n\r\nabc", "POST /slow/300/half-post: response 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := rawExchange(t, in, tc.request, true)
			if resp.StatusCode != 200 || !strings.HasPrefix(body, tc.want) {
				t.Errorf("after a half-close (RFC 9112 §9.6): %d %q, want 200 with %q", resp.StatusCode, body, tc.want)
			}
		})
	}
}

func TestABadChunkedRequestBodyIsTheClientsFault(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL})
	resp, body := rawExchange(t, in, "POST /bad HTTP/1.1\r\nHost: "+siteHost+"\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", false)
	if resp.StatusCode != http.StatusBadRequest || strings.Contains(resp.Header.Get("Cache-Status"), "origin-error") {
		t.Errorf("malformed chunked body (RFC 9112 §7.1): %d %q, Cache-Status %q; want 400, not an origin error", resp.StatusCode, body, resp.Header.Get("Cache-Status"))
	}
}

func TestHitForPassIsReportedOnTheRequestsThatSkipTheQueue(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL})
	resp, _ := in.get("/no-store/hfp")
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "detail=no-store") {
		t.Fatalf("first request: Cache-Status %q, want detail=no-store", cs)
	}
	resp, _ = in.get("/no-store/hfp")
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "detail=hit-for-pass") {
		t.Errorf("second request within cache.collapse.hit_for_pass: Cache-Status %q, want detail=hit-for-pass", cs)
	}
}

func TestAClientThatHalfClosesIsServedFromRedisLikeAnyOther(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL, backend: "redis", prefix: testutil.UniquePrefix(t)})
	in.get("/max-age/60/half-redis")
	resp, body := rawExchange(t, in, "GET /max-age/60/half-redis HTTP/1.1\r\nHost: "+siteHost+"\r\n\r\n", true)
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "hit") || !strings.Contains(body, "response 1") || o.Count("/max-age/60/half-redis") != 1 {
		t.Errorf("a half-closed request for a stored key: %q, Cache-Status %q, origin requests %d; want the stored response as a hit (a half-close must not bypass the cache)",
			body, cs, o.Count("/max-age/60/half-redis"))
	}
	if strings.Contains(in.log.String(), "store get") {
		t.Errorf("a half-close made a store read fail:\n%s", in.log.String())
	}
}
