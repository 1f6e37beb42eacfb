package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachegate/cachegate/accesslog"
	"github.com/cachegate/cachegate/internal/testutil"
)

// acceptHook calls each on every connection its listener accepts.
type acceptHook struct {
	net.Listener
	each func(net.Conn)
}

func (l acceptHook) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.each(c)
	}
	return c, err
}

// sizedOrigin answers /bytes/N with N bytes, fresh for an hour.
func sizedOrigin(t *testing.T) *origin {
	return newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/bytes/"))
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "application/octet-stream")
		io.WriteString(w, strings.Repeat("x", n))
	})
}

// wireConns makes c's server hand each connection it accepts to the
// returned channel (newCacheWith serves on a WireListener).
func wireConns(c *cache) <-chan *wireConn {
	conns := make(chan *wireConn, 16)
	c.Listener = acceptHook{c.Listener, func(nc net.Conn) {
		if wc, ok := nc.(*wireConn); ok {
			conns <- wc
		}
	}}
	return conns
}

func TestAHitsHeaderAndTheFirstPieceOfItsBodyLeaveInOneWrite(t *testing.T) {
	for _, tc := range []struct {
		method string
		size   int
		// logged: the access log is on (the response is counted).
		logged bool
		// writes is the system calls that send the response: one for
		// the header and the first writeChunk bytes, one for each
		// writeChunk after (net/http alone would send the first 4 KiB
		// of header and body in a write of their own).
		writes int64
	}{
		{http.MethodGet, 1 << 10, false, 1},
		{http.MethodGet, 3 << 10, false, 1},
		{http.MethodGet, 16 << 10, false, 1},
		{http.MethodGet, writeChunk, false, 1},
		{http.MethodGet, 256 << 10, false, 8},
		{http.MethodGet, 256 << 10, true, 8},
		{http.MethodHead, 16 << 10, false, 1},
	} {
		for _, lane := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s %d logged=%v lane=%v", tc.method, tc.size, tc.logged, lane), func(t *testing.T) {
				o := sizedOrigin(t)
				opts, extra := Options{}, ""
				if tc.logged {
					l, err := accesslog.Open(accesslog.Settings{Enabled: true, Format: accesslog.FormatJSON, Output: "stdout"}, io.Discard, io.Discard)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { l.Close() })
					opts.AccessLog, extra = l, "access_log: {enabled: true}\n"
				}
				c := newCacheUnstarted(t, o, extra, opts)
				conns := wireConns(c)
				c.Start()
				path := fmt.Sprintf("/bytes/%d", tc.size)
				c.get(t, path) // fills
				<-conns        // the fill's connection

				conn, br, wc := dialHit(t, c, conns, !lane)
				for i := range 2 { // and once more on the same connection
					fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\n\r\n", tc.method, path, c.Listener.Addr())
					resp, err := http.ReadResponse(br, &http.Request{Method: tc.method})
					if err != nil {
						t.Fatal(err)
					}
					body, err := io.ReadAll(resp.Body)
					if err != nil {
						t.Fatal(err)
					}
					want := tc.size
					if tc.method == http.MethodHead {
						want = 0
					}
					if !strings.Contains(resp.Header.Get("Cache-Status"), "hit") || len(body) != want || strings.Trim(string(body), "x") != "" ||
						resp.Header.Get("Content-Length") != strconv.Itoa(tc.size) {
						t.Fatalf("response %d: %s with %d bytes, Content-Length %s, Cache-Status %q; want a hit of %d bytes",
							i, resp.Status, len(body), resp.Header.Get("Content-Length"), resp.Header.Get("Cache-Status"), want)
					}
					if got := wc.writes.Load(); got != int64(i+1)*tc.writes {
						t.Errorf("response %d: %d writes in all, want %d", i, got, int64(i+1)*tc.writes)
					}
				}
			})
		}
	}
}

// dialHit dials c, whose server's side conns tells (wireConns); when
// handOver, its first request makes the hit lane hand it to net/http,
// which then serves it with deliver holding the writes. The server's side
// counts the writes from then on.
func dialHit(t *testing.T, c *cache, conns <-chan *wireConn, handOver bool) (net.Conn, *bufio.Reader, *wireConn) {
	t.Helper()
	conn, err := net.Dial("tcp", c.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	wc := <-conns
	br := bufio.NewReader(conn)
	if handOver {
		// A Content-Length, even of 0, is net/http's to read.
		fmt.Fprintf(conn, "GET /handed-over HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\n\r\n", c.Listener.Addr())
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		wc.writes.Store(0)
	}
	return conn, br, wc
}

func TestAHitToAClientThatStopsReadingIsCutAndItsConnectionClosed(t *testing.T) {
	for _, lane := range []bool{true, false} {
		t.Run(fmt.Sprintf("lane=%v", lane), func(t *testing.T) { testAHitToAClientThatStopsReading(t, lane) })
	}
}

// testAHitToAClientThatStopsReading is the test above, on the hit lane or
// on a connection handed to net/http (where deliver holds the writes).
func testAHitToAClientThatStopsReading(t *testing.T, lane bool) {
	o := sizedOrigin(t)
	var logs testutil.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newCacheUnstarted(t, o, "client_timeouts:\n  write: 200ms\n", Options{Logger: log})
	// Small socket buffers on both sides, so that the header and 32 KiB
	// of body cannot all be taken by the kernel of a client that reads
	// nothing.
	c.Listener = acceptHook{c.Listener, func(nc net.Conn) { nc.(interface{ SetWriteBuffer(int) error }).SetWriteBuffer(4096) }}
	c.Start()
	path := fmt.Sprintf("/bytes/%d", writeChunk)
	c.get(t, path) // fills

	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	conn, err := d.Dial("tcp", c.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if !lane {
		// A Content-Length, even of 0, is net/http's to read.
		fmt.Fprintf(conn, "GET /bytes/10 HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\n\r\n", c.Listener.Addr())
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.ContentLength != 10 || br.Buffered() != 10 {
			t.Fatalf("the request handing over: %v, Content-Length %d", err, resp.ContentLength)
		}
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, c.Listener.Addr())
	testutil.Eventually(t, 20*time.Second, "the held write to give up", func() bool {
		return strings.Contains(logs.String(), "client stopped reading")
	})
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("after %d bytes: %v; want the connection closed after a cut response", len(got), err)
	}
	if len(got) >= writeChunk {
		t.Fatalf("the client got %d bytes, want the response cut before the end of its %d byte body", len(got), writeChunk)
	}
}

func TestPipelinedHitsOnTheLaneAndThenHandedOverEachGetTheirWholeResponseInOrder(t *testing.T) {
	o := sizedOrigin(t)
	c := newCache(t, o, "")
	sizes := []int{16 << 10, 1 << 10, 100 << 10, 5 << 10}
	for _, n := range sizes {
		c.get(t, fmt.Sprintf("/bytes/%d", n)) // fills
	}
	conn, err := net.Dial("tcp", c.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Every request in one write, HEAD among them: the hit lane answers
	// the first two, the third has a Content-Length and hands the
	// connection, with the last request still unread, to net/http, which
	// reads the next only after the previous response, held or not, has
	// left.
	var reqs strings.Builder
	methods := []string{http.MethodGet, http.MethodGet, http.MethodHead, http.MethodGet}
	for i, n := range sizes {
		length := ""
		if i == 2 {
			length = "Content-Length: 0\r\n"
		}
		fmt.Fprintf(&reqs, "%s /bytes/%d HTTP/1.1\r\nHost: %s\r\n%s\r\n", methods[i], n, c.Listener.Addr(), length)
	}
	io.WriteString(conn, reqs.String())
	br := bufio.NewReader(conn)
	for i, n := range sizes {
		resp, err := http.ReadResponse(br, &http.Request{Method: methods[i]})
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		want := n
		if methods[i] == http.MethodHead {
			want = 0
		}
		if len(body) != want || strings.Trim(string(body), "x") != "" || resp.Header.Get("Content-Length") != strconv.Itoa(n) ||
			!strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
			t.Fatalf("response %d: %d bytes, Content-Length %s, Cache-Status %q; want a hit of %d bytes",
				i, len(body), resp.Header.Get("Content-Length"), resp.Header.Get("Cache-Status"), want)
		}
	}
}

// heldHit fills path from o through a new cache, then gets it again on a
// new connection handed to net/http (dialHit): the hit, and the server's
// side of its connection.
func heldHit(t *testing.T, o *origin, path string) (*http.Response, string, *wireConn) {
	t.Helper()
	c := newCacheUnstarted(t, o, "", Options{})
	conns := wireConns(c)
	c.Start()
	c.get(t, path)
	<-conns
	conn, br, wc := dialHit(t, c, conns, true)
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, c.Listener.Addr())
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body), wc
}

func TestAHeldHitWhoseHeaderOutgrowsNetHTTPsBufferArrivesWhole(t *testing.T) {
	// 40 fields of 200 bytes: net/http flushes its 4 KiB buffer twice
	// before the body, and each flush is copied into what is held.
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		for i := range 40 {
			w.Header().Set(fmt.Sprintf("X-Field-%02d", i), strings.Repeat(string(rune('a'+i%26)), 200))
		}
		io.WriteString(w, strings.Repeat("x", 16<<10))
	})
	resp, body, wc := heldHit(t, o, "/big-header")
	if !strings.Contains(resp.Header.Get("Cache-Status"), "hit") || len(body) != 16<<10 || strings.Trim(body, "x") != "" {
		t.Fatalf("%d bytes, Cache-Status %q; want a hit of %d bytes", len(body), resp.Header.Get("Cache-Status"), 16<<10)
	}
	for i := range 40 {
		if got, want := resp.Header.Get(fmt.Sprintf("X-Field-%02d", i)), strings.Repeat(string(rune('a'+i%26)), 200); got != want {
			t.Fatalf("X-Field-%02d: %q, want %q", i, got, want)
		}
	}
	if got := wc.writes.Load(); got != 1 {
		t.Errorf("%d writes, want 1", got)
	}
}

func TestAHeldHitWithAHugeHeaderStopsHoldingAndArrivesWhole(t *testing.T) {
	// 400 fields of 1 KiB from the origin: holding would copy 400 KiB a hit.
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		for i := range 400 {
			w.Header().Set(fmt.Sprintf("X-Field-%03d", i), strings.Repeat("v", 1024))
		}
		io.WriteString(w, strings.Repeat("x", 16<<10))
	})
	resp, body, wc := heldHit(t, o, "/huge-header")
	if !strings.Contains(resp.Header.Get("Cache-Status"), "hit") || len(body) != 16<<10 || len(resp.Header) < 400 ||
		resp.Header.Get("X-Field-399") != strings.Repeat("v", 1024) {
		t.Fatalf("%d bytes, %d fields, Cache-Status %q; want a hit of %d bytes with every field", len(body), len(resp.Header), resp.Header.Get("Cache-Status"), 16<<10)
	}
	// One writev of what was held up to the bound, then net/http's writes.
	if got := wc.writes.Load(); got < 2 {
		t.Errorf("%d writes: the hit held all of a 400 KiB header", got)
	}
}
