// Command plain is a bare net/http server with no cache: /bytes/N/...
// answers N bytes prepared in memory, with the header fields a cached
// response carries. The benchmark script runs it as the ceiling of what
// net/http itself serves, to tell net/http's cost from cachegate's.
package main

import (
	"flag"
	"log"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9001", "the `address` to serve on")
	flag.Parse()
	var mu sync.Mutex
	bodies := map[int][]byte{}
	body := func(n int) []byte {
		mu.Lock()
		defer mu.Unlock()
		if b, ok := bodies[n]; ok {
			return b
		}
		b := []byte(strings.Repeat("x", n))
		if len(bodies) < 16 {
			bodies[n] = b
		}
		return b
	}
	log.Fatal(http.ListenAndServe(*listen, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(r.URL.Path, "/")
		n := 0
		if len(parts) > 2 && parts[1] == "bytes" {
			n, _ = strconv.Atoi(parts[2])
		}
		if n < 0 || n > 1<<20 {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		b := body(n)
		h := w.Header()
		h["Cache-Control"] = []string{"max-age=60"}
		h["Content-Type"] = []string{"text/plain; charset=utf-8"}
		h["Content-Length"] = []string{strconv.Itoa(len(b))}
		w.Write(b)
	})))
}
