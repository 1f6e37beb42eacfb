package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

func TestHitLaneFalseLeavesEveryRequestToNetHTTP(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		io.WriteString(w, "ok")
	}))
	t.Cleanup(origin.Close)
	for _, lane := range []bool{true, false} {
		in := startInstance(t, origin.URL, "")
		ls := &listeners{log: testutil.DiscardLogger(), limits: in.started.ClientLimits, hitLane: lane}
		srv, ln, err := ls.listenProxy("127.0.0.1:0", in.proxy)
		if err != nil {
			t.Fatal(err)
		}
		var taken atomic.Int64
		prev := srv.ConnState
		srv.ConnState = func(c net.Conn, s http.ConnState) {
			if s == http.StateNew {
				taken.Add(1)
			}
			if prev != nil {
				prev(c, s)
			}
		}
		go srv.Serve(ls.lns[0])
		get := func() string {
			t.Helper()
			// A connection of its own for each request.
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := client.Get("http://" + ln.Addr().String() + "/x")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.Header.Get("Cache-Status")
		}
		get() // fills, on net/http either way
		before := taken.Load()
		if status := get(); !strings.Contains(status, "hit") {
			t.Fatalf("hit_lane %v: Cache-Status %q, want a hit", lane, status)
		}
		if got, want := taken.Load()-before, map[bool]int64{true: 0, false: 1}[lane]; got != want {
			t.Errorf("hit_lane %v: net/http took %d connections for a hit, want %d", lane, got, want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for _, l := range ls.lanes {
			l.Shutdown(ctx)
		}
		srv.Shutdown(ctx)
		cancel()
	}
}
