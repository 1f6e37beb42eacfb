package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/store"
)

// laneHeads are request heads, each followed by its blank line, that the
// hit lane must read as net/http does or leave to it.
// The first acceptedHeads are the lane's to read.
var laneHeads = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"HEAD /x?q=1&r=%20 HTTP/1.1\r\nHost: a:80\r\nAccept: */*\r\n\r\n",
	"GET /x HTTP/1.1\r\nhost: a\r\nuser-agent:\tcurl/8 \t\r\nX-MULTI: 1\r\nx-multi: 2\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\nCache-Control: max-age=5\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nEmpty:\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nObs: caf\xe9\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: \r\n\r\n",
	"GET //evil.example/x HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /x#frag HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET /x HTTP/1.1\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a b\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n",
	"GET /x HTTP/1.1\nHost: a\n\n",
	"GET /x HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nX : b\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nX\x7f: b\r\n\r\n",
	"GET /x HTTP/1.0\r\nHost: a\r\n\r\n",
	"GET /x HTTP/1.1 \r\nHost: a\r\n\r\n",
	"GET  /x HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /x y HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET http://a/x HTTP/1.1\r\nHost: b\r\n\r\n",
	"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
	"get /x HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST /x HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /x HTTP/2.0\r\nHost: a\r\n\r\n",
	"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /.well-known/acme-challenge/t HTTP/1.1\r\nHost: a\r\n\r\n",
	" GET /x HTTP/1.1\r\nHost: a\r\n\r\n",
	"\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n",
}

const acceptedHeads = 11

// FuzzParseHeadReadsAsNetHTTPDoes: whatever parseHead accepts, net/http
// accepts too (http.ReadRequest and its server's checks), ending the
// request at the same byte and reading the same method, target, host,
// fields and connection handling, with no body.
func FuzzParseHeadReadsAsNetHTTPDoes(f *testing.F) {
	for _, h := range laneHeads {
		f.Add([]byte(h))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		end := bytes.Index(raw, crlfcrlf)
		if end < 0 {
			return
		}
		head := raw[:end+4]
		got := &http.Request{Header: http.Header{}}
		if !parseHead(head, got) {
			return
		}
		const next = "NEXT"
		br := bufio.NewReader(io.MultiReader(bytes.NewReader(head), strings.NewReader(next)))
		want, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("%q: the lane reads it, net/http refuses it: %v", head, err)
		}
		if rest, _ := io.ReadAll(br); string(rest) != next {
			t.Fatalf("%q: net/http leaves %q after the request, the lane %q", head, rest, next)
		}
		// What net/http's server checks after ReadRequest (server.go),
		// which keeps only the first Host.
		tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(head)))
		tp.ReadLine()
		fields, err := tp.ReadMIMEHeader()
		if err != nil {
			t.Fatalf("%q: the lane reads it, textproto refuses it: %v", head, err)
		}
		hosts := fields["Host"]
		if len(hosts) != 1 || !httpguts.ValidHostHeader(hosts[0]) {
			t.Fatalf("%q: the lane reads it, net/http's server refuses its Host %q", head, hosts)
		}
		for name, values := range want.Header {
			if !httpguts.ValidHeaderFieldName(name) {
				t.Fatalf("%q: the lane reads it, net/http's server refuses the field name %q", head, name)
			}
			for _, v := range values {
				if !httpguts.ValidHeaderFieldValue(v) {
					t.Fatalf("%q: the lane reads it, net/http's server refuses the value %q", head, v)
				}
			}
		}
		if got.Method != want.Method || got.RequestURI != want.RequestURI || got.URL.String() != want.URL.String() ||
			got.Host != want.Host || got.Close != want.Close || !maps.EqualFunc(got.Header, want.Header, slices.Equal) ||
			want.ContentLength != 0 || len(want.TransferEncoding) != 0 || want.ProtoMajor != 1 || want.ProtoMinor != 1 {
			t.Fatalf("%q:\nlane:     %s %s host %q close %v %v\nnet/http: %s %s host %q close %v %v, length %d, coding %v",
				head, got.Method, got.URL, got.Host, got.Close, got.Header,
				want.Method, want.URL, want.Host, want.Close, want.Header, want.ContentLength, want.TransferEncoding)
		}
	})
}

func TestTheLaneLeavesWhatItDoesNotReadAsNetHTTPDoesToNetHTTP(t *testing.T) {
	// The heads parseHead must decline; the fuzz test above proves the
	// others agree.
	for i, h := range laneHeads {
		if got := parseHead([]byte(h), &http.Request{Header: http.Header{}}); got != (i < acceptedHeads) {
			t.Errorf("%q: parseHead %v, want %v", h, got, i < acceptedHeads)
		}
	}
}

// laneOrigin answers every path with a body naming it, validators and an
// hour of freshness; /no-type without a Content-Type, /big with 100 KiB.
func laneOrigin(t *testing.T) *origin {
	return newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		body := "content of " + r.URL.Path + "\n"
		switch r.URL.Path {
		case "/no-type":
			w.Header()["Content-Type"] = nil
		case "/big":
			body = strings.Repeat("0123456789abcdef", 100<<10/16)
		default:
			w.Header().Set("Content-Type", "text/plain")
		}
		io.WriteString(w, body)
	})
}

// exchangeRaw writes raw, then a GET of /after, on one connection to
// addr, and reads the responses until the server closes it or stops
// answering: a summary of each, without what differs between two
// answers of one entry (Date, Age, the TTL of Cache-Status).
func exchangeRaw(t *testing.T, addr, raw string) []string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, raw+"GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	br := bufio.NewReader(conn)
	var got []string
	ttl := regexp.MustCompile(`; ?ttl=-?\d+`)
	boundary := regexp.MustCompile(`[0-9a-f]{60}`)
	for {
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		resp, err := http.ReadResponse(br, &http.Request{Method: strings.Fields(raw + " GET")[0]})
		if err != nil {
			if len(got) == 0 {
				got = append(got, "no response: "+err.Error())
			}
			return got
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			got = append(got, "body: "+err.Error())
			return got
		}
		if resp.Header.Get("Date") == "" {
			got = append(got, "no Date")
		}
		for _, name := range []string{"Date", "Age", "X-Request-Id"} {
			resp.Header.Del(name)
		}
		resp.Header.Set("Cache-Status", ttl.ReplaceAllString(resp.Header.Get("Cache-Status"), ""))
		var b strings.Builder
		fmt.Fprintf(&b, "%s close=%v length=%d coding=%v\n", resp.Status, resp.Close, resp.ContentLength, resp.TransferEncoding)
		resp.Header.Write(&b)
		fmt.Fprintf(&b, "%q", body)
		got = append(got, boundary.ReplaceAllString(b.String(), "BOUNDARY"))
		raw = "GET"
	}
}

func TestTheLaneAnswersWhatNetHTTPWouldAnswer(t *testing.T) {
	o := laneOrigin(t)
	c := newCache(t, o, "")
	// The same proxy on a server without a lane.
	plain := httptest.NewUnstartedServer(c.p)
	plain.Listener = WireListener(plain.Listener)
	plain.Config.ConnContext = ConnContext
	plain.Start()
	t.Cleanup(plain.Close)

	big := "GET /x HTTP/1.1\r\nHost: a\r\nCookie: " + strings.Repeat("c", 5000) + "\r\n\r\n"
	heads := append(slices.Clone(laneHeads), big,
		"GET /no-type HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /big HTTP/1.1\r\nHost: a\r\n\r\n",
		"HEAD /big HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"v1\"\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: Mon, 02 Jan 2006 15:04:05 GMT\r\n\r\n",
		"GET /big HTTP/1.1\r\nHost: a\r\nRange: bytes=10-19\r\n\r\n",
		"GET /big HTTP/1.1\r\nHost: a\r\nRange: bytes=0-0,5-9\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: a\r\nRange: bytes=900000-\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: a\r\nCache-Control: only-if-cached\r\n\r\n",
		"GET /never-stored HTTP/1.1\r\nHost: a\r\nCache-Control: only-if-cached\r\n\r\n",
		"GET /a/%2e%2e/x HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a%2fb HTTP/1.1\r\nHost: a\r\n\r\n",
		"PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
	)
	for _, raw := range heads {
		// Twice to the server without a lane, so that what can be stored
		// is, then once to each.
		exchangeRaw(t, plain.Listener.Addr().String(), raw)
		exchangeRaw(t, plain.Listener.Addr().String(), raw)
		want := exchangeRaw(t, plain.Listener.Addr().String(), raw)
		got := exchangeRaw(t, c.Listener.Addr().String(), raw)
		if !slices.Equal(got, want) {
			t.Errorf("%q:\nthe lane's server answered\n%s\nnet/http alone\n%s", raw, strings.Join(got, "\n--\n"), strings.Join(want, "\n--\n"))
		}
	}
}

// connectionsTaken counts the connections c's net/http server takes
// (handed over by the lane); call it before c.Start.
func connectionsTaken(c *cache) *atomic.Int64 {
	var taken atomic.Int64
	c.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			taken.Add(1)
		}
	}
	return &taken
}

func TestHitsStayOnTheLaneAndTheFirstMissHandsTheConnectionToNetHTTP(t *testing.T) {
	o := laneOrigin(t)
	c := newCacheUnstarted(t, o, "", Options{})
	taken := connectionsTaken(c)
	c.Start()
	c.get(t, "/hit")
	c.transport.CloseIdleConnections()
	taken.Store(0)

	conn, err := net.Dial("tcp", c.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	get := func(path string) *http.Response {
		t.Helper()
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, c.Listener.Addr())
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		return resp
	}
	for range 3 {
		if resp := get("/hit"); !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
			t.Fatalf("Cache-Status %q, want a hit", resp.Header.Get("Cache-Status"))
		}
	}
	if n := taken.Load(); n != 0 {
		t.Fatalf("net/http took %d connections for hits, want none", n)
	}
	if resp := get("/miss"); !strings.Contains(resp.Header.Get("Cache-Status"), "fwd=uri-miss") {
		t.Fatalf("Cache-Status %q, want a miss", resp.Header.Get("Cache-Status"))
	}
	if n := taken.Load(); n != 1 {
		t.Fatalf("net/http took %d connections after a miss, want 1", n)
	}
	if resp := get("/hit"); !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
		t.Fatalf("after the hand-over: Cache-Status %q, want a hit", resp.Header.Get("Cache-Status"))
	}
}

func TestShuttingTheLaneDownClosesItsIdleConnectionsAndWaitsForTheBusyOnes(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	releaseOrigin := func() { once.Do(func() { close(release) }) }
	defer releaseOrigin()
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		w.Header().Set("Cache-Control", "max-age=3600")
		io.WriteString(w, "ok")
	})
	c := newCache(t, o, "")
	c.get(t, "/hit")
	dial := func() (net.Conn, *bufio.Reader) {
		conn, err := net.Dial("tcp", c.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn, bufio.NewReader(conn)
	}
	idle, idleR := dial()
	io.WriteString(idle, "GET /hit HTTP/1.1\r\nHost: "+c.Listener.Addr().String()+"\r\n\r\n")
	resp, err := http.ReadResponse(idleR, nil)
	if err != nil || !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
		t.Fatalf("%v; want a hit", err)
	}
	io.Copy(io.Discard, resp.Body)
	// A miss the lane hands over, waiting on the origin.
	busy, busyR := dial()
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	testutil.Eventually(t, 10*time.Second, "the origin to be asked", func() bool { return o.hits.Load() == 2 })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.lane.Shutdown(ctx); err != nil {
		t.Fatalf("lane shutdown: %v", err)
	}
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := idleR.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the idle connection read %d bytes, %v; want it closed", n, err)
	}
	if _, err := net.DialTimeout("tcp", c.Listener.Addr().String(), time.Second); err == nil {
		t.Fatal("the listener still accepts")
	}
	releaseOrigin()
	busy.SetReadDeadline(time.Now().Add(10 * time.Second))
	if resp, err := http.ReadResponse(busyR, nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the busy request: %v; want its answer", err)
	}
}

func TestAHeadSentByteByByteIsCutAtTheHeaderTimeout(t *testing.T) {
	o := laneOrigin(t)
	c := newCacheUnstarted(t, o, "", Options{})
	c.Config.ReadHeaderTimeout = 300 * time.Millisecond
	taken := connectionsTaken(c)
	c.Start()
	conn, err := net.Dial("tcp", c.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /x HTTP/1.1\r\nHo")
	// Trickled, the head never ends; the lane must not hand it to net/http
	// (whose own timeout would start again) nor wait for ever.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := io.WriteString(conn, "o"); err != nil {
					return
				}
			}
		}
	}()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(conn)
	var ne net.Error
	if len(got) != 0 || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("read %q, %v; want the connection closed without an answer", got, err)
	}
	if n := taken.Load(); n != 0 {
		t.Fatalf("the lane handed the connection to net/http, whose timeout starts again")
	}
}

// panickingStore panics on a Get while armed.
type panickingStore struct {
	store.Store
	armed *atomic.Bool
}

func (s panickingStore) Get(ctx context.Context, key string) (*store.Entry, error) {
	if s.armed.Load() {
		panic("a store that panics")
	}
	return s.Store.Get(ctx, key)
}

func TestAPanicOnTheLaneClosesItsConnectionAndTheProxyServesOn(t *testing.T) {
	o := laneOrigin(t)
	var logs testutil.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var armed atomic.Bool
	c := newCacheWith(t, o, "", Options{Store: panickingStore{store.NewMemory(1 << 20), &armed}, Logger: log})
	conn, err := net.Dial("tcp", c.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	armed.Store(true)
	io.WriteString(conn, "GET /panic HTTP/1.1\r\nHost: a\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(conn)
	armed.Store(false)
	if len(got) != 0 || err != nil {
		t.Fatalf("read %q, %v; want the connection closed without an answer", got, err)
	}
	if !strings.Contains(logs.String(), "panic serving a request on the hit lane") {
		t.Errorf("the log has no word of the panic: %s", logs.String())
	}
	if resp, _ := c.get(t, "/fine"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the panic: %s, want 200", resp.Status)
	}
}

func TestAHeadInTwoPiecesAfterALongIdleIsAnswered(t *testing.T) {
	o := laneOrigin(t)
	c := newCacheUnstarted(t, o, "", Options{})
	c.Config.ReadHeaderTimeout = time.Second
	c.Config.IdleTimeout = 30 * time.Second
	c.Start()
	c.get(t, "/x")
	conn, err := net.Dial("tcp", c.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	head := "GET /x HTTP/1.1\r\nHost: " + c.Listener.Addr().String() + "\r\n\r\n"
	for i := range 3 {
		// After the first request, idle past the header timeout (the idle
		// timeout applies), then a head whose second piece comes a moment
		// after its first: its header timeout runs from its first byte.
		if i > 0 {
			time.Sleep(1500 * time.Millisecond)
		}
		io.WriteString(conn, head[:10])
		time.Sleep(50 * time.Millisecond)
		io.WriteString(conn, head[10:])
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v; want an answer", i, err)
		}
		io.Copy(io.Discard, resp.Body)
	}
}

func TestAResponseWithoutAContentTypeGetsNoneOnAMissNorOnAHit(t *testing.T) {
	o := laneOrigin(t)
	c := newCache(t, o, "")
	for i, want := range []string{"fwd=uri-miss", "hit"} {
		resp, body := c.get(t, "/no-type")
		if !strings.Contains(resp.Header.Get("Cache-Status"), want) || body != "content of /no-type\n" {
			t.Fatalf("request %d: Cache-Status %q, body %q; want %s", i, resp.Header.Get("Cache-Status"), body, want)
		}
		if ct, ok := resp.Header["Content-Type"]; ok {
			t.Errorf("request %d (%s): Content-Type %q, want none (the origin sent none)", i, want, ct)
		}
	}
}

// countingStore counts its Gets.
type countingStore struct {
	store.Store
	gets *atomic.Int64
}

func (s countingStore) Get(ctx context.Context, key string) (*store.Entry, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, key)
}

func TestAMissTheLaneHandsOverIsLookedUpOnce(t *testing.T) {
	o := laneOrigin(t)
	var gets atomic.Int64
	c := newCacheWith(t, o, "", Options{Store: countingStore{store.NewMemory(1 << 20), &gets}})
	miss := func(path string, handOver bool) int64 {
		t.Helper()
		conn, err := net.Dial("tcp", c.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		if handOver {
			// A Content-Length, even of 0, is net/http's to read.
			io.WriteString(conn, "GET /handed-over HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
		}
		before := gets.Load()
		io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		if !strings.Contains(resp.Header.Get("Cache-Status"), "fwd=uri-miss") {
			t.Fatalf("%s: Cache-Status %q, want a miss", path, resp.Header.Get("Cache-Status"))
		}
		return gets.Load() - before
	}
	byNetHTTP := miss("/first", true)
	byLane := miss("/second", false)
	if byLane != byNetHTTP {
		t.Fatalf("a miss read the store %d times when the lane handed it over, %d on net/http alone", byLane, byNetHTTP)
	}
}
