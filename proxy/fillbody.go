package proxy

import (
	"io"
	"sync"
	"time"
)

// originBody is the body of a response being stored. A goroutine owned by
// the fill (readOrigin) reads it from the origin at the origin's pace into
// memory, at most cache.max_object_bytes, and stores the entry as soon as
// it is complete; the client that caused the fill reads it from memory at
// its own pace (bodyReader). So a client that reads slowly never paces a
// fill, and the requests collapsed behind it are released when the entry
// is stored, not when that client has read it.
//
// A body without Content-Length that outgrows the bound is handed over:
// the fill stops reading, nothing is stored, and the client's reader
// continues from the origin itself once it has read what was buffered (the
// origin is then paced by that client, as for any response that is not
// stored).
type originBody struct {
	mu   sync.Mutex
	more sync.Cond // broadcast when buf grows, end is set or the body is handed over
	buf  []byte
	// end is io.EOF once the whole body is in buf, or why the origin's body
	// was cut; nil while the fill reads.
	end error
	// handedOver: the body outgrew the bound; the client's reader owns the
	// origin's body (and the fill's cancel) from then on.
	handedOver bool
	// tooLarge: the body outgrew the bound; it is not stored.
	tooLarge bool
	origin   io.ReadCloser
	// cancel ends the request to the origin.
	cancel func()
	// done is closed when the fill has ended: stored, cut or handed over.
	done chan struct{}
}

func newOriginBody(origin io.ReadCloser, contentLength int64, cancel func()) *originBody {
	b := &originBody{origin: origin, cancel: cancel, done: make(chan struct{})}
	b.more.L = &b.mu
	if contentLength > 0 {
		// Only called for bodies that fit the bound.
		b.buf = make([]byte, 0, contentLength)
	}
	return b
}

// readChunk is how much of the origin's body the fill reads at a time.
const readChunk = 32 << 10

// read reads the origin's body into b until it ends, is cut, stays silent
// for idle (the origin request is then cancelled), or outgrows max. It
// returns the body and whether it is complete and fits (may be stored). On
// return the origin's body is closed, unless it was handed over.
func (b *originBody) read(max int64, idle time.Duration) ([]byte, bool) {
	watchdog := time.AfterFunc(idle, b.cancel)
	defer watchdog.Stop()
	chunk := make([]byte, readChunk)
	for {
		n, err := b.origin.Read(chunk)
		watchdog.Reset(idle)
		full := b.append(chunk[:n], max, err)
		switch {
		case err != nil:
			b.origin.Close()
			b.cancel()
			if err != io.EOF || full {
				return nil, false
			}
			return b.complete(), true
		case full:
			return nil, false // handed over
		}
	}
}

// append adds p to the buffer and, when err is set, ends the body with it;
// without an error, a buffer that outgrew max is handed over. It reports
// whether the buffer outgrew max.
func (b *originBody) append(p []byte, max int64, err error) (full bool) {
	b.mu.Lock()
	defer b.more.Broadcast()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	full = int64(len(b.buf)) > max
	b.tooLarge = full
	switch {
	case err != nil:
		b.end = err
	case full:
		b.handedOver = true
	}
	return full
}

// complete is the whole body, without the spare capacity that growing it
// left (stored entries are accounted by their length).
func (b *originBody) complete() []byte {
	if cap(b.buf)-len(b.buf) > len(b.buf)/8 {
		return append([]byte(nil), b.buf...)
	}
	return b.buf
}

// settledBefore waits until the fill has ended (the entry stored or not)
// or more than limit bytes have arrived, and reports whether it ended.
func (b *originBody) settledBefore(limit int) bool {
	b.mu.Lock()
	for b.end == nil && !b.handedOver && len(b.buf) <= limit {
		b.more.Wait()
	}
	ended := b.end != nil || b.handedOver
	b.mu.Unlock()
	if ended {
		<-b.done
	}
	return ended
}

// outgrew reports whether the body outgrew the bound (it is not stored).
func (b *originBody) outgrew() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tooLarge
}

// cut reports whether the origin's body ended with an error.
func (b *originBody) cut() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.end != nil && b.end != io.EOF
}

// bodyReader is the client's view of an originBody.
type bodyReader struct {
	b   *originBody
	off int
}

func (r *bodyReader) Read(p []byte) (int, error) {
	b := r.b
	b.mu.Lock()
	for r.off == len(b.buf) && b.end == nil && !b.handedOver {
		b.more.Wait()
	}
	if r.off < len(b.buf) {
		n := copy(p, b.buf[r.off:])
		r.off += n
		b.mu.Unlock()
		return n, nil
	}
	if b.end != nil {
		b.mu.Unlock()
		return 0, b.end
	}
	// Handed over, and the buffer is read: the rest comes from the origin.
	b.buf, r.off = nil, 0
	b.mu.Unlock()
	return b.origin.Read(p)
}

// Close ends the client's reading. The fill goes on without it; a body
// handed over is closed, and its origin request ended.
func (r *bodyReader) Close() error {
	b := r.b
	b.mu.Lock()
	handedOver := b.handedOver
	b.mu.Unlock()
	if !handedOver {
		return nil
	}
	err := b.origin.Close()
	b.cancel()
	return err
}
