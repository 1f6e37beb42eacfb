package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"unsafe"
)

// A hit's header and the start of its body leave in one system call.
//
// net/http writes a response through a 4 KiB buffer: the header and the
// body's first bytes fill it and go out in one write, the rest of the body
// in a second. That second write is where a 16 KiB hit lost most to a
// server that answers in one (bench/run.sh: a plain net/http server
// answers 38,000 requests a second with 3,500 bytes, 30,000 with 4,500,
// and spends 8 µs more CPU on each). On the proxy's own HTTP/1.1
// listener, deliver holds the connection's writes while net/http writes
// the header and the first piece of a stored body, then sends what it held
// as one writev: the bytes net/http copied into its buffer are copied once
// more (usually at most 4 KiB; past maxHeldCopy holding stops), the stored
// body is referenced, not copied. The
// write deadline is the one clientWriter set for that piece, as when
// net/http wrote it; a write that fails closes the connection, so that
// nothing follows a cut response on it.
//
// Only connections accepted by WireListener can be held (not TLS, whose
// records are written by crypto/tls, nor HTTP/2, whose streams share a
// connection): ConnContext tells deliver which one a request came on.

// WireListener returns ln, whose TCP connections deliver can hold.
func WireListener(ln net.Listener) net.Listener { return wireListener{ln} }

type wireListener struct{ net.Listener }

func (l wireListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		return &wireConn{TCPConn: tc}, nil
	}
	return c, err
}

// wireConnKey is the context key of a request's wireConn.
type wireConnKey struct{}

// ConnContext is the http.Server ConnContext of a server on a
// WireListener.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if wc, ok := c.(*wireConn); ok {
		return context.WithValue(ctx, wireConnKey{}, wc)
	}
	return ctx
}

// heldWriteMin is the longest body writeBody does not hold: net/http
// buffers up to 2 KiB of body before it writes the header, and a header
// with that much body mostly fits its 4 KiB buffer.
const heldWriteMin = 2 << 10

// wireConn is a connection whose writes can be held and sent as one.
// Only the goroutine serving the connection writes to it (HTTP/1.1), so
// its fields need no lock.
type wireConn struct {
	*net.TCPConn
	// pending is what the hit lane read and left to net/http, read
	// first; lookedUp what it read from the store for the request it
	// handed over.
	pending  *bufio.Reader
	lookedUp lookedUp
	holding  bool
	// pinned is what a held write may reference instead of copying: the
	// stored body, which nobody changes.
	pinned []byte
	// held is what was written while holding, in order; copied is the
	// pooled buffer the copies live in.
	held   net.Buffers
	send   net.Buffers
	copied *[]byte
	// writes counts the system calls that wrote (tests).
	writes atomic.Int64
}

// maxHeldCopy bounds the bytes a held response copies (net/http's
// buffered header and body start): past it, holding stops.
const maxHeldCopy = 64 << 10

var copiedPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10+512); return &b }}

// hold starts holding writes; pinned is the part of the body about to be
// written.
func (c *wireConn) hold(pinned []byte) {
	c.holding, c.pinned = true, pinned
}

// release sends what was written since hold in one writev and stops
// holding. When the write fails the connection is closed.
func (c *wireConn) release() error {
	c.holding, c.pinned = false, nil
	var err error
	if len(c.held) > 0 {
		c.writes.Add(1)
		// WriteTo consumes send, not held, whose array is cleared below.
		c.send = c.held
		_, err = c.send.WriteTo(c.TCPConn)
		c.send = nil
	}
	clear(c.held)
	c.held = c.held[:0]
	if c.copied != nil {
		// A header of many fields grows the buffer: the pool keeps
		// only the usual size.
		if cap(*c.copied) <= 8<<10 {
			*c.copied = (*c.copied)[:0]
			copiedPool.Put(c.copied)
		}
		c.copied = nil
	}
	if err != nil {
		c.TCPConn.Close()
	}
	return err
}

func (c *wireConn) Read(p []byte) (int, error) {
	if c.pending != nil {
		if c.pending.Buffered() > 0 {
			return c.pending.Read(p)
		}
		c.pending = nil
	}
	return c.TCPConn.Read(p)
}

func (c *wireConn) Write(p []byte) (int, error) {
	if !c.holding {
		c.writes.Add(1)
		return c.TCPConn.Write(p)
	}
	if within(p, c.pinned) {
		c.held = append(c.held, p)
		return len(p), nil
	}
	if c.copied != nil && len(*c.copied)+len(p) > maxHeldCopy {
		// A header this large (an origin's hundreds of fields) is not
		// worth a copy: what is held goes now, the rest as it comes.
		if err := c.release(); err != nil {
			return 0, err
		}
		c.writes.Add(1)
		return c.TCPConn.Write(p)
	}
	if c.copied == nil {
		c.copied = copiedPool.Get().(*[]byte)
	}
	// An append that moves the buffer leaves the slices held so far on
	// the old array, which nothing writes any more.
	from := len(*c.copied)
	*c.copied = append(*c.copied, p...)
	c.held = append(c.held, (*c.copied)[from:len(*c.copied):len(*c.copied)])
	return len(p), nil
}

// ReadFrom sends what is held first: net/http's response.ReadFrom writes
// to the connection directly.
func (c *wireConn) ReadFrom(r io.Reader) (int64, error) {
	if c.holding {
		if err := c.release(); err != nil {
			return 0, err
		}
	}
	return c.TCPConn.ReadFrom(r)
}

// within reports whether p lies wholly inside pinned.
func within(p, pinned []byte) bool {
	if len(p) == 0 || len(pinned) == 0 {
		return false
	}
	start, end := uintptr(unsafe.Pointer(unsafe.SliceData(pinned))), uintptr(unsafe.Pointer(unsafe.SliceData(pinned)))+uintptr(len(pinned))
	at := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	return at >= start && at+uintptr(len(p)) <= end
}

// heldConn is the connection r came on when deliver can hold it.
func heldConn(r *http.Request) *wireConn {
	if r.ProtoMajor != 1 {
		return nil
	}
	c, _ := r.Context().Value(wireConnKey{}).(*wireConn)
	return c
}

// writeBody writes a stored body: on a connection that can be held, the
// header net/http buffered and the body's first piece leave in one writev.
func (p *Proxy) writeBody(w http.ResponseWriter, r *http.Request, body []byte) {
	if c := heldConn(r); c != nil && len(body) > heldWriteMin {
		first := body[:min(len(body), writeChunk)]
		c.hold(first)
		_, werr := w.Write(first)
		if werr == nil {
			// Should w not flush, what it keeps leaves after what was
			// held, in order, as the rest of the body does.
			http.NewResponseController(w).Flush()
		}
		if err := c.release(); err != nil {
			p.log.Debug("client stopped reading; its connection is cut", "err", err)
			return
		}
		if werr != nil {
			return
		}
		body = body[len(first):]
	}
	w.Write(body)
}
