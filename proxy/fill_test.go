package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

func TestAFillWhoseClientLeavesIsStoredAllTheSame(t *testing.T) {
	half := strings.Repeat("a", 512<<10)
	clientGone := make(chan struct{})
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", strconv.Itoa(2*len(half)))
		io.WriteString(w, half)
		w.(http.Flusher).Flush()
		select {
		case <-clientGone:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, half)
	})
	c := newCache(t, o, "")
	conn, err := net.Dial("tcp", c.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /left HTTP/1.1\r\nHost: %s\r\n\r\n", c.Listener.Addr())
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(resp.Body, make([]byte, 1024))
	conn.Close()
	close(clientGone)
	var body string
	testutil.Eventually(t, 10*time.Second, "the fill whose client left is stored", func() bool {
		var resp *http.Response
		resp, body = c.get(t, "/left")
		return strings.Contains(resp.Header.Get("Cache-Status"), "hit")
	})
	if body != half+half || o.hits.Load() != 1 {
		t.Errorf("hit of %d bytes after %d origin requests, want the whole body after 1", len(body), o.hits.Load())
	}
}

func TestCacheStatusOfAStreamedResponseDoesNotClaimStored(t *testing.T) {
	big := strings.Repeat("b", storedBeforeHeaders+1)
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		io.WriteString(w, big)
	})
	c := newCache(t, o, "")
	resp, body := c.get(t, "/streamed")
	cs := resp.Header.Get("Cache-Status")
	if body != big || strings.Contains(cs, "stored") || !strings.Contains(cs, "detail=streamed") {
		t.Errorf("a body larger than the headers wait for: %d bytes, Cache-Status %q; want the body, detail=streamed and no stored (RFC 9211 §2.5: unknown when the headers left)", len(body), cs)
	}
	testutil.Eventually(t, 10*time.Second, "the streamed response is stored", func() bool {
		resp, _ := c.get(t, "/streamed")
		return strings.Contains(resp.Header.Get("Cache-Status"), "hit")
	})
}

func TestAFillWhoseOriginStallsEndsAfterTheOriginTimeout(t *testing.T) {
	released := make(chan struct{})
	var once sync.Once
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", strconv.Itoa(1<<20))
		io.WriteString(w, strings.Repeat("s", 300<<10))
		w.(http.Flusher).Flush()
		if r.URL.Path == "/stall" {
			<-r.Context().Done() // stalls until the cache gives up
			once.Do(func() { close(released) })
		}
	})
	c := newCache(t, o, "origin_timeouts:\n  response_header: 200ms\n")
	conn, err := net.Dial("tcp", c.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /stall HTTP/1.1\r\nHost: %s\r\n\r\n", c.Listener.Addr())
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(resp.Body, make([]byte, 1024))
	conn.Close() // the client leaves; the fill goes on without it
	select {
	case <-released:
	case <-time.After(30 * time.Second):
		t.Fatal("the fill kept waiting for a stalled origin: its goroutine and origin connection leak")
	}
	if resp, _ := c.get(t, "/stall"); strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
		t.Error("a body cut by the origin timeout was stored")
	}
}

func TestTheWriteTimeoutNeverCutsAClientWhileTheOriginIsQuiet(t *testing.T) {
	// The spells are twice the write timeout: a deadline that ran while
	// the origin is quiet would cut the client in each.
	const quiet = 300 * time.Millisecond
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		for i := range 3 {
			// Quiet for longer than client_timeouts.write between pieces, and
			// before the end of the chunked body.
			time.Sleep(quiet)
			fmt.Fprintf(w, "piece %d;", i)
			w.(http.Flusher).Flush()
		}
		time.Sleep(quiet)
	})
	c := newCache(t, o, fmt.Sprintf("client_timeouts:\n  write: %v\n", quiet/2))
	resp, err := http.Get(c.URL + "/quiet")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "piece 0;piece 1;piece 2;" || err != nil {
		t.Errorf("a streamed response with quiet spells: %d %q (%v), want the three pieces and the end of the body: the write deadline counts only while the client does not read", resp.StatusCode, body, err)
	}
}

func TestAnEmptyBodyIsStored(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Location", "/elsewhere")
		w.WriteHeader(http.StatusMovedPermanently)
	})
	c := newCache(t, o, "")
	resp, _ := c.get(t, "/moved")
	wantStatus(t, resp, "stored")
	resp, _ = c.get(t, "/moved")
	if resp.StatusCode != http.StatusMovedPermanently || o.hits.Load() != 1 {
		t.Errorf("second request for a stored 301 without body: %d after %d origin requests, want the stored 301 after 1", resp.StatusCode, o.hits.Load())
	}
}
