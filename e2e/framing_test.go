package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// exchangeRaw writes raw to in's proxy listener on one connection and
// reads every response until the connection closes; a connection still
// open after 10 s is an error.
func exchangeRaw(t *testing.T, in *instance, raw string) []*http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(in.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, raw)
	br := bufio.NewReader(conn)
	var resps []*http.Response
	for {
		resp, err := http.ReadResponse(br, nil)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return resps
		}
		if err != nil {
			t.Fatalf("after %d responses: %v (the connection should have been closed)", len(resps), err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		resps = append(resps, resp)
	}
}

// TestHostileFramingIsRefusedOrClosedNeverReadAsTwoRequests sends the
// request framings a smuggling attempt uses (RFC 9112 §6.3, §5, §11.2)
// to the real binary: each is answered 4xx/5xx or, when its framing is
// taken (Transfer-Encoding over Content-Length), its connection is closed
// after its response, so that no byte after it is read as a request.
func TestHostileFramingIsRefusedOrClosedNeverReadAsTwoRequests(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL})
	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: " + siteHost + "\r\n\r\n"
	h := "Host: " + siteHost + "\r\n"
	for _, tc := range []struct {
		name, raw string
		status    int
	}{
		{"Content-Length then Transfer-Encoding", "POST /f/1 HTTP/1.1\r\n" + h + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, 200},
		{"Transfer-Encoding then Content-Length", "POST /f/2 HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n" + smuggled, 200},
		{"HTTP/1.0 with Transfer-Encoding", "POST /f/3 HTTP/1.0\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, 200},
		{"two Content-Lengths that differ", "POST /f/4 HTTP/1.1\r\n" + h + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!" + smuggled, 400},
		{"a Content-Length list", "POST /f/5 HTTP/1.1\r\n" + h + "Content-Length: 5, 5\r\n\r\nhello" + smuggled, 400},
		{"a signed Content-Length", "POST /f/6 HTTP/1.1\r\n" + h + "Content-Length: +5\r\n\r\nhello" + smuggled, 400},
		{"a transfer coding other than chunked", "POST /f/7 HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + smuggled, 501},
		{"an unknown transfer coding", "POST /f/8 HTTP/1.1\r\n" + h + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + smuggled, 501},
		{"space before the colon", "POST /f/9 HTTP/1.1\r\n" + h + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + smuggled, 400},
		{"a bad chunk size", "POST /f/10 HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n" + smuggled, 400},
		{"two Hosts", "GET /f/11 HTTP/1.1\r\nHost: " + siteHost + "\r\nHost: other.test\r\n\r\n" + smuggled, 400},
		{"a NUL in a value", "GET /f/12 HTTP/1.1\r\n" + h + "X-A: a\x00b\r\n\r\n" + smuggled, 400},
		{"a CR in a value", "GET /f/13 HTTP/1.1\r\n" + h + "X-A: a\rb\r\n\r\n" + smuggled, 400},
		{"a bad field name", "GET /f/14 HTTP/1.1\r\n" + h + "X(A): 1\r\n\r\n" + smuggled, 400},
		{"a space in the target", "GET /f/15 x HTTP/1.1\r\n" + h + "\r\n" + smuggled, 400},
		{"HTTP/2.0 on the HTTP/1 listener", "GET /f/16 HTTP/2.0\r\n" + h + "\r\n" + smuggled, 505},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resps := exchangeRaw(t, in, tc.raw)
			if len(resps) != 1 || resps[0].StatusCode != tc.status {
				var got []string
				for _, r := range resps {
					got = append(got, r.Status)
				}
				t.Fatalf("responses %q, want one %d and the connection closed", got, tc.status)
			}
		})
	}
	if n := o.Count("/smuggled"); n != 0 {
		t.Errorf("the origin was asked for /smuggled %d times: bytes after a request were read as another", n)
	}
	for _, p := range []string{"/f/4", "/f/5", "/f/6", "/f/7", "/f/8", "/f/9", "/f/11", "/f/12", "/f/13", "/f/14", "/f/15", "/f/16"} {
		if n := o.Count(p); n != 0 {
			t.Errorf("the origin was asked for %s, refused by the proxy, %d times", p, n)
		}
	}
}
