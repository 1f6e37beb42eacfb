package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// The hit lane answers the hits of the proxy's plain HTTP/1.1 listener
// without net/http.
//
// net/http spends about 10 µs of CPU on each request besides what the
// handler does (a context and a goroutine per request, its response and
// buffers, a background read), a third of a small hit's cost and most of
// what cachegate needed over Varnish (docs/BENCHMARKS.md, issue 17). The
// lane reads each connection's requests itself, as long as they are the
// simplest kind, GET or HEAD in origin form over HTTP/1.1 with no body,
// and cachegate answers them from the cache. At the first request it does
// not answer, anything else, or a miss, it hands the connection to
// net/http with that request's bytes still unread, and net/http reads
// them as if it had read the connection from its start: from then on the
// connection is net/http's alone. So only one parser takes each request,
// and the lane's parser is stricter than net/http's: what it accepts,
// net/http reads the same way (parseHead), and where the two could differ,
// on framing above all, it declines and net/http decides as it always
// did. Requests with a body, a Content-Length, a Transfer-Encoding or an
// Expect, obsolete line folding, bare LFs, HTTP/1.0, an absolute-form
// target, a head larger than the lane's 4 KiB buffer: all go to net/http.
//
// A request the lane declines after looking it up (a miss, a stale entry
// that must be revalidated) is looked up again by net/http's ServeHTTP: a
// connection pays that once, when it is handed over.

// laneBufferSize is the lane's read buffer per connection: the largest
// request head it answers.
const laneBufferSize = 4 << 10

// acmeChallengePath is where the ACME HTTP-01 challenges are answered
// (certs.Manager.HTTPHandler wraps the plain listener's handler): the lane
// leaves them to net/http.
const acmeChallengePath = "/.well-known/acme-challenge/"

// HitLane serves a listener's connections, answering hits itself and
// handing the rest to an http.Server through Listener.
type HitLane struct {
	p   *Proxy
	ln  net.Listener
	srv *http.Server

	// handed takes the connections handed to net/http; failed the
	// listener's errors, for net/http's Accept.
	handed chan net.Conn
	failed chan error
	// ended is closed once the listener is closed and the lane serves no
	// connection any more.
	ended chan struct{}
	start sync.Once

	closing atomic.Bool
	mu      sync.Mutex
	conns   map[*laneConn]struct{}
	// active counts the lane's connections: each is done when it closes,
	// or when net/http has taken it (ConnState StateNew).
	active sync.WaitGroup
}

// NewHitLane returns the hit lane of p on ln, a WireListener, for srv, the
// server that serves what the lane hands over: srv must serve
// lane.Listener(), and its ReadHeaderTimeout, IdleTimeout and
// MaxHeaderBytes bound the lane's reads too. It sets srv.ConnState,
// calling the one srv had.
func NewHitLane(p *Proxy, ln net.Listener, srv *http.Server) *HitLane {
	l := &HitLane{
		p: p, ln: ln, srv: srv,
		handed: make(chan net.Conn),
		failed: make(chan error),
		ended:  make(chan struct{}),
		conns:  make(map[*laneConn]struct{}),
	}
	prev := srv.ConnState
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			// Every connection net/http accepts was handed over.
			l.active.Done()
		}
		if prev != nil {
			prev(c, s)
		}
	}
	return l
}

// Listener is the listener net/http serves: it accepts the connections
// the lane hands over. Closing it closes the lane (Close).
func (l *HitLane) Listener() net.Listener { return laneListener{l} }

type laneListener struct{ l *HitLane }

func (ll laneListener) Accept() (net.Conn, error) {
	l := ll.l
	l.start.Do(func() { go l.acceptLoop() })
	select {
	case c := <-l.handed:
		return c, nil
	case err := <-l.failed:
		return nil, err
	case <-l.ended:
		return nil, net.ErrClosed
	}
}

func (ll laneListener) Close() error   { return ll.l.Close() }
func (ll laneListener) Addr() net.Addr { return ll.l.ln.Addr() }

// acceptLoop accepts connections and serves each on the lane until the
// listener is closed; it passes other errors on to net/http's Accept,
// whose back-off paces it.
func (l *HitLane) acceptLoop() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if l.closing.Load() || errors.Is(err, net.ErrClosed) {
				l.active.Wait()
				close(l.ended)
				return
			}
			select {
			case l.failed <- err:
			case <-l.ended:
			}
			continue
		}
		wc, ok := c.(*wireConn)
		if !ok {
			// Not a TCP connection: net/http's alone.
			l.active.Add(1)
			l.handed <- c
			continue
		}
		lc := &laneConn{l: l, c: wc}
		if !l.track(lc) {
			c.Close()
			continue
		}
		go lc.serve()
	}
}

// track adds lc to the lane's connections, unless the lane is closing.
func (l *HitLane) track(lc *laneConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing.Load() {
		return false
	}
	l.conns[lc] = struct{}{}
	l.active.Add(1)
	return true
}

// untrack removes lc from the lane's connections.
func (l *HitLane) untrack(lc *laneConn) {
	l.mu.Lock()
	delete(l.conns, lc)
	l.mu.Unlock()
}

// Close stops accepting: the lane's idle connections are closed, and each
// busy one closes after the response it writes (or is handed over).
func (l *HitLane) Close() error {
	if l.closing.Swap(true) {
		return nil
	}
	l.start.Do(func() { go l.acceptLoop() })
	err := l.ln.Close()
	l.mu.Lock()
	for lc := range l.conns {
		lc.closeIfIdle()
	}
	l.mu.Unlock()
	return err
}

// Shutdown closes the lane and waits until it serves no connection (each
// closed or handed to net/http), or until ctx ends. Call it before the
// server's own Shutdown, which then waits for what was handed over.
func (l *HitLane) Shutdown(ctx context.Context) error {
	l.Close()
	select {
	case <-l.ended:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// The states of a lane connection.
const (
	connBusy int32 = iota
	connIdle
	connClosed
)

// laneConn is one connection while the lane serves it.
type laneConn struct {
	l     *HitLane
	c     *wireConn
	br    *bufio.Reader
	state atomic.Int32
	// remote is the client's address.
	remote string
	w      laneWriter
}

var laneReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, laneBufferSize) }}

// closeIfIdle closes the connection if it waits for a request.
func (lc *laneConn) closeIfIdle() {
	if lc.state.CompareAndSwap(connIdle, connClosed) {
		lc.c.Close()
	}
}

// idle marks the connection waiting; false when the lane is closing (the
// connection is then closed).
func (lc *laneConn) idle() bool {
	lc.state.Store(connIdle)
	if lc.l.closing.Load() {
		lc.closeIfIdle()
	}
	return lc.state.Load() == connIdle
}

// serve answers the connection's requests until one is not the lane's.
func (lc *laneConn) serve() {
	l := lc.l
	lc.br = laneReaders.Get().(*bufio.Reader)
	lc.br.Reset(lc.c)
	lc.remote = lc.c.RemoteAddr().String()
	lc.w.c = lc
	handed := false
	defer func() {
		if err := recover(); err != nil {
			// As net/http does for a handler's panic: the connection is
			// closed, the process serves on.
			stack := make([]byte, 64<<10)
			stack = stack[:runtime.Stack(stack, false)]
			l.p.log.Error("panic serving a request on the hit lane", "remote", lc.remote, "err", err, "stack", string(stack))
			handed = false
		}
		l.untrack(lc)
		if !handed {
			lc.c.Close()
			lc.br.Reset(nil)
			laneReaders.Put(lc.br)
			l.active.Done()
		}
	}()
	// The first request's head must come within ReadHeaderTimeout of the
	// connection's start; later ones within IdleTimeout, as net/http
	// bounds them (0: no bound).
	wait := l.srv.ReadHeaderTimeout
	for first := true; ; first = false {
		if !lc.idle() {
			return
		}
		if !first {
			wait = l.srv.IdleTimeout
		}
		lc.setReadDeadline(time.Now(), wait)
		_, err := lc.br.Peek(1)
		if !lc.state.CompareAndSwap(connIdle, connBusy) || err != nil {
			return
		}
		head, err := lc.readHead(first)
		if err != nil {
			return // a timeout: net/http would close too, without a word
		}
		if head == nil || !lc.answer(head) {
			handed = true
			lc.handOver()
			return
		}
		lc.br.Discard(len(head))
		if lc.w.closeAfter || l.closing.Load() {
			return
		}
	}
}

// setReadDeadline sets the read deadline d from now, or none.
func (lc *laneConn) setReadDeadline(now time.Time, d time.Duration) {
	var t time.Time
	if d > 0 {
		t = now.Add(d)
	}
	lc.c.SetReadDeadline(t)
}

// readHead returns the request head at the start of the buffer, through
// its blank line, reading more within the server's ReadHeaderTimeout (from
// the connection's start for its first request, which the deadline set
// then already bounds, else from the head's first byte, as net/http); nil
// when it is not there but net/http should read it (too large for the
// lane, or the client closed its side).
func (lc *laneConn) readHead(first bool) ([]byte, error) {
	for deadline := first; ; {
		buf, _ := lc.br.Peek(lc.br.Buffered())
		if i := bytes.Index(buf, crlfcrlf); i >= 0 {
			return buf[:i+4], nil
		}
		if len(buf) == lc.br.Size() {
			return nil, nil
		}
		if !deadline {
			deadline = true
			lc.setReadDeadline(time.Now(), lc.l.srv.ReadHeaderTimeout)
		}
		if _, err := lc.br.Peek(len(buf) + 1); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, err
			}
			return nil, nil
		}
	}
}

var crlfcrlf = []byte("\r\n\r\n")

// answer answers the request in head if it is a hit; false, having
// written nothing, otherwise.
func (lc *laneConn) answer(head []byte) bool {
	if max := lc.l.srv.MaxHeaderBytes; max > 0 && len(head) > max {
		return false
	}
	r := &http.Request{
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: make(http.Header, 16), Body: http.NoBody,
		RemoteAddr: lc.remote,
	}
	if !parseHead(head, r) {
		return false
	}
	w := &lc.w
	w.reset(r)
	if !lc.l.p.serve(w, r, lc.c) {
		return false
	}
	w.finish()
	w.done()
	return true
}

// handOver gives the connection to net/http, with what the lane buffered
// still to be read.
func (lc *laneConn) handOver() {
	lc.c.SetDeadline(time.Time{})
	lc.c.pending = lc.br
	lc.l.handed <- lc.c
}

// parseHead parses a request head into r under a grammar stricter than
// net/http's, and reports whether it did: it accepts only what net/http
// reads the same way, and answers the same (RFC 9112 §3, §5). Request
// line "GET" or "HEAD", one space, an origin-form target of visible ASCII
// that url.ParseRequestURI takes, one space, "HTTP/1.1", CRLF. Each field
// line a token, a colon, and a value net/http accepts (optional spaces or
// tabs around it), ended by CRLF. Exactly one valid Host. No
// Content-Length, Transfer-Encoding or Expect, no CR or LF but in CRLFs.
// As net/http does, Host moves to r.Host, and "Pragma: no-cache" without
// a Cache-Control adds "Cache-Control: no-cache" (RFC 9111 §5.4).
func parseHead(head []byte, r *http.Request) bool {
	line, rest, ok := cutLine(head)
	if !ok {
		return false
	}
	switch {
	case bytes.HasPrefix(line, []byte("GET ")):
		r.Method, line = http.MethodGet, line[4:]
	case bytes.HasPrefix(line, []byte("HEAD ")):
		r.Method, line = http.MethodHead, line[5:]
	default:
		return false
	}
	target, ok := bytes.CutSuffix(line, []byte(" HTTP/1.1"))
	if !ok || len(target) == 0 || target[0] != '/' {
		return false
	}
	for _, b := range target {
		if b <= ' ' || b >= 0x7f {
			return false
		}
	}
	r.RequestURI = string(target)
	u, err := url.ParseRequestURI(r.RequestURI)
	if err != nil || strings.HasPrefix(u.Path, acmeChallengePath) {
		return false
	}
	r.URL = u
	hosts := 0
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return false
		}
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return false
		}
		name := line[:colon]
		for _, b := range name {
			if !httpguts.IsTokenRune(rune(b)) {
				return false
			}
		}
		value := string(textproto.TrimBytes(line[colon+1:]))
		if !httpguts.ValidHeaderFieldValue(value) {
			return false
		}
		key := canonicalKey(name)
		switch key {
		case "Host":
			hosts++
			r.Host = value
			continue
		case "Content-Length", "Transfer-Encoding", "Expect":
			return false
		}
		r.Header[key] = append(r.Header[key], value)
	}
	if len(rest) != 0 || hosts != 1 || !httpguts.ValidHostHeader(r.Host) {
		return false
	}
	if p := r.Header["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := r.Header["Cache-Control"]; !ok {
			r.Header["Cache-Control"] = []string{"no-cache"}
		}
	}
	r.Close = httpguts.HeaderValuesContainsToken(r.Header["Connection"], "close")
	return true
}

// cutLine cuts b at its first CRLF; false when there is none, or when a
// CR or LF comes before it alone.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' || bytes.IndexByte(b[:i-1], '\r') >= 0 {
		return nil, nil, false
	}
	return b[:i-1], b[i+1:], true
}

// commonKeys are the canonical field names most requests carry, so that
// canonicalKey does not allocate them.
var commonKeys = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Connection", "Cookie", "Host", "If-Modified-Since", "If-None-Match", "Pragma",
		"Range", "Referer", "User-Agent", "X-Forwarded-For", "X-Forwarded-Proto",
		"X-Request-Id", "Content-Length", "Transfer-Encoding", "Expect", "Upgrade",
		"Origin", "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Dnt",
		"Upgrade-Insecure-Requests", "Priority", "Te", "Via", "Forwarded",
	} {
		m[k] = k
	}
	return m
}()

// canonicalKey is http.CanonicalHeaderKey of a token.
func canonicalKey(name []byte) string {
	if k, ok := commonKeys[string(name)]; ok {
		return k
	}
	return http.CanonicalHeaderKey(string(name))
}

// laneWriter is the lane's http.ResponseWriter: it writes the header when
// the body starts (or the response ends), with the first piece of the
// body in the same writev, and the rest of the body as it comes. A
// response without a Content-Length is sent whole with one when it is
// short, else chunked.
type laneWriter struct {
	c      *laneConn
	r      *http.Request
	header http.Header
	status int
	// head is the serialized header; held body bytes of a response
	// without a Content-Length.
	head, held []byte
	headed     bool
	sent       bool
	chunked    bool
	// length is the response's Content-Length, or -1; written counts the
	// body bytes written.
	length, written int64
	closeAfter      bool
	failed          error
	send            net.Buffers
}

// laneHeldMax is the most of a body without a Content-Length held to be
// sent with one.
const laneHeldMax = 4 << 10

func (w *laneWriter) reset(r *http.Request) {
	if w.header == nil {
		w.header = make(http.Header, 16)
	}
	clear(w.header)
	w.r, w.status, w.headed, w.sent, w.chunked = r, 0, false, false, false
	w.length, w.written, w.closeAfter, w.failed = -1, 0, r.Close, nil
	w.head, w.held = w.head[:0], w.held[:0]
}

func (w *laneWriter) Header() http.Header { return w.header }

func (w *laneWriter) WriteHeader(status int) {
	if w.status != 0 || status < 200 {
		return // 1xx: a hit sends none
	}
	w.status = status
}

// bodyAllowed reports whether the response has a body on the wire.
func (w *laneWriter) bodyAllowed() bool {
	return w.r.Method != http.MethodHead && w.status != http.StatusNoContent && w.status != http.StatusNotModified
}

func (w *laneWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed != nil {
		return 0, w.failed
	}
	if !w.bodyAllowed() {
		if w.r.Method == http.MethodHead {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if !w.sent {
		w.writeHead()
		if w.length < 0 && len(w.held)+len(p) <= laneHeldMax {
			w.held = append(w.held, p...)
			return len(p), nil
		}
	}
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		w.fail(http.ErrContentLength)
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if err := w.out(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// writeHead serializes the header, once; the response's framing is then
// fixed.
func (w *laneWriter) writeHead() {
	if w.headed {
		return
	}
	w.headed = true
	h := w.header
	delete(h, "Transfer-Encoding")
	delete(h, "Trailer")
	if cl := h["Content-Length"]; len(cl) == 1 {
		if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil && n >= 0 {
			w.length = n
		} else {
			delete(h, "Content-Length")
		}
	} else if len(cl) > 1 {
		delete(h, "Content-Length")
	}
	if httpguts.HeaderValuesContainsToken(h["Connection"], "close") {
		w.closeAfter = true
	}
	b := append(w.head[:0], "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(w.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(w.status)...)
	b = append(b, "\r\n"...)
	for name, values := range h {
		if !httpguts.ValidHeaderFieldName(name) || name == "Connection" {
			continue
		}
		for _, v := range values {
			b = appendField(b, name, v)
		}
	}
	if _, ok := h["Date"]; !ok {
		b = append(b, "Date: "...)
		b = append(b, httpDate()...)
		b = append(b, "\r\n"...)
	}
	if w.closeAfter || w.c.l.closing.Load() {
		w.closeAfter = true
		b = append(b, "Connection: close\r\n"...)
	}
	w.head = b
}

// endHead ends the header, with the framing it now knows.
func (w *laneWriter) endHead(final bool) {
	if w.length < 0 && w.bodyAllowed() {
		if final {
			w.length = int64(len(w.held))
			w.head = append(w.head, "Content-Length: "...)
			w.head = strconv.AppendInt(w.head, w.length, 10)
			w.head = append(w.head, "\r\n"...)
		} else {
			w.chunked = true
			w.head = append(w.head, "Transfer-Encoding: chunked\r\n"...)
		}
	}
	w.head = append(w.head, "\r\n"...)
}

// out writes p, after the header and what was held if they have not gone
// yet, in one writev.
func (w *laneWriter) out(p []byte) error {
	w.send = w.send[:0]
	var size [20]byte
	if !w.sent {
		w.endHead(false)
		w.sent = true
		w.send = append(w.send, w.head)
		if len(w.held) > 0 {
			w.send = appendChunk(w.send, w.chunked, size[:0], w.held)
		}
		w.send = appendChunk(w.send, w.chunked, size[10:10], p)
	} else {
		w.send = appendChunk(w.send, w.chunked, size[:0], p)
	}
	return w.writev()
}

// appendChunk appends p to bufs, as a chunk (with size as its buffer for
// the chunk's size line) when chunked.
func appendChunk(bufs net.Buffers, chunked bool, size, p []byte) net.Buffers {
	if len(p) == 0 {
		return bufs
	}
	if !chunked {
		return append(bufs, p)
	}
	size = strconv.AppendInt(size, int64(len(p)), 16)
	size = append(size, "\r\n"...)
	return append(bufs, size, p, crlfcrlf[:2])
}

// writev sends w.send.
func (w *laneWriter) writev() error {
	c := w.c.c
	c.writes.Add(1)
	bufs := w.send
	_, err := bufs.WriteTo(c.TCPConn)
	clear(w.send)
	if err != nil {
		w.fail(err)
	}
	return err
}

// fail ends the response: the connection closes after it.
func (w *laneWriter) fail(err error) {
	w.failed, w.closeAfter = err, true
}

// FlushError sends the header (and what was held), if it has not gone.
func (w *laneWriter) FlushError() error {
	if w.failed != nil || w.sent {
		return w.failed
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.writeHead()
	return w.out(nil)
}

func (w *laneWriter) Flush() { w.FlushError() }

// SetWriteDeadline lets clientWriter bound the writes (through
// http.ResponseController).
func (w *laneWriter) SetWriteDeadline(t time.Time) error { return w.c.c.SetWriteDeadline(t) }

// finish ends the response after the handler: what was not sent goes,
// and a chunked body gets its last chunk. A body shorter than its
// Content-Length closes the connection, so that the client does not wait
// for the rest.
func (w *laneWriter) finish() {
	if w.failed != nil {
		return
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sent {
		w.writeHead()
		w.endHead(true)
		w.sent = true
		w.send = append(w.send[:0], w.head)
		if len(w.held) > 0 && w.bodyAllowed() {
			w.send = append(w.send, w.held)
			w.written = int64(len(w.held))
		}
		w.writev()
	} else if w.chunked {
		w.send = append(w.send[:0], []byte("0\r\n\r\n"))
		w.writev()
	}
	if w.bodyAllowed() && w.length >= 0 && w.written != w.length {
		w.closeAfter = true
	}
}

// done lets go of the response: an idle connection keeps no stored entry
// reachable, and no header buffer a response of many fields grew.
func (w *laneWriter) done() {
	clear(w.header)
	clear(w.send[:cap(w.send)])
	w.r = nil
	if cap(w.head) > laneHeldMax*2 {
		w.head = nil
	}
}

// appendField appends a field line, its value with CR and LF as spaces
// and trimmed, as net/http writes it.
func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	from := len(b)
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	v := textproto.TrimBytes(b[from:])
	b = append(b[:from], v...)
	return append(b, "\r\n"...)
}

// httpDate is the current time as an HTTP-date (RFC 9110 §5.6.7), made
// at most once a second.
func httpDate() string {
	now := time.Now()
	if d := currentDate.Load(); d != nil && d.unix == now.Unix() {
		return d.text
	}
	d := &dateText{unix: now.Unix(), text: now.UTC().Format(http.TimeFormat)}
	currentDate.Store(d)
	return d.text
}

type dateText struct {
	unix int64
	text string
}

var currentDate atomic.Pointer[dateText]
