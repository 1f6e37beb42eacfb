package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestACommandWhoseAdminListenerAcceptsAndNeverAnswersFailsInsteadOfHanging(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	c := &adminClient{base: "http://" + ln.Addr().String(), token: "t", http: adminHTTPClient(200 * time.Millisecond)}
	errc := make(chan error, 1)
	go func() {
		resp, err := c.do(context.Background(), http.MethodGet, "/live", nil)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		var ne net.Error
		if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("got %v, want a timeout error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the command still waits after 30s for an answer that never comes")
	}
}
