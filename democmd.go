package main

import (
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/demo"
)

// runDemo serves the demo origin and a proxy before it on the memory store.
func runDemo(listen, originListen string, stderr io.Writer) int {
	ln, err := net.Listen("tcp", originListen)
	if err != nil {
		fmt.Fprintln(stderr, "cachegate demo:", err)
		return 1
	}
	go http.Serve(ln, demo.New())
	cfg, err := config.Parse("demo.yaml", []byte(fmt.Sprintf(demoConfig, listen, ln.Addr())))
	if err != nil {
		fmt.Fprintln(stderr, "cachegate demo:", err)
		return 1
	}
	fmt.Fprintf(stderr, "cachegate demo: origin on http://%s, proxy on http://%s\n"+
		"  try: curl -si http://%s/time   (twice; watch Age and Cache-Status)\n", ln.Addr(), listen, listen)
	return serve(cfg, stderr)
}

const demoConfig = `
listen: %q
origin: "http://%s"
admin:
  listen: "127.0.0.1:0"
store:
  backend: memory
  memory:
    max_bytes: 64MiB
routes:
  - name: slow
    match: {path: /slow/}
    ttl: 30s
    mode: override
    stale_while_revalidate: 30s
    stale_if_error: 5m
`
