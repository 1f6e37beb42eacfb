package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// pipelined writes raw to c's server on one connection and reads every
// response until the server closes it (or 5 s pass with none).
func pipelined(t *testing.T, c *cache, raw string) (resps []*http.Response, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", c.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, raw)
	br := bufio.NewReader(conn)
	for {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return resps, err == io.EOF || err == io.ErrUnexpectedEOF
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		resps = append(resps, resp)
	}
}

// bodyReadingOrigin reads each request's body and answers with its path,
// fresh for a minute.
func bodyReadingOrigin(t *testing.T) *origin {
	return newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "ok "+r.URL.Path)
	})
}

func TestARequestWithBothContentLengthAndTransferEncodingClosesItsConnection(t *testing.T) {
	o := bodyReadingOrigin(t)
	c := newCache(t, o, "")
	host := c.Listener.Addr().String()
	c.get(t, "/cached") // a hit below, answered by deliver
	for _, tc := range []struct{ name, raw string }{
		// A front that counts the Content-Length sends 6 bytes of body
		// ("0\r\n\r\nG") and takes "ET /smuggled" for its next request;
		// read by the Transfer-Encoding, /smuggled is a request of its own.
		{"CL then TE", "POST /upload HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: " + host + "\r\n\r\n"},
		{"TE then CL", "POST /upload HTTP/1.1\r\nHost: " + host + "\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: " + host + "\r\n\r\n"},
		{"a hit with TE", "GET /cached HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + "GET /smuggled HTTP/1.1\r\nHost: " + host + "\r\n\r\n"},
		{"TE alone", "POST /upload HTTP/1.1\r\nHost: " + host + "\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: " + host + "\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resps, closed := pipelined(t, c, tc.raw)
			if len(resps) != 1 || resps[0].StatusCode != http.StatusOK || !resps[0].Close || !closed {
				var got []string
				for _, r := range resps {
					got = append(got, r.Status+" Connection: "+r.Header.Get("Connection"))
				}
				t.Fatalf("responses %q, closed %v; want one 200 with Connection: close, then the connection closed (RFC 9112 §6.3)", got, closed)
			}
		})
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range o.requests {
		if strings.Contains(r.URL.Path, "smuggled") {
			t.Errorf("the origin was asked for %s: what followed the chunked body was read as a request", r.URL.Path)
		}
	}
}

func TestARequestWithoutATransferEncodingKeepsItsConnection(t *testing.T) {
	o := bodyReadingOrigin(t)
	c := newCache(t, o, "")
	host := c.Listener.Addr().String()
	resps, _ := pipelined(t, c, "POST /upload HTTP/1.1\r\nHost: "+host+"\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
	if len(resps) != 2 || resps[0].Close || resps[1].StatusCode != http.StatusOK {
		t.Fatalf("%d responses (first closes: %v), want 2 on one connection", len(resps), len(resps) > 0 && resps[0].Close)
	}
}

func TestAPurgeWithATransferEncodingClosesItsConnection(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	c := newCacheWith(t, o, "", Options{PURGE: func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}})
	host := c.Listener.Addr().String()
	resps, closed := pipelined(t, c, "PURGE /page HTTP/1.1\r\nHost: "+host+"\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nPURGE /smuggled HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
	if len(resps) != 1 || !resps[0].Close || !closed {
		t.Fatalf("%d responses, closed %v; want one with Connection: close, then the connection closed", len(resps), closed)
	}
}
