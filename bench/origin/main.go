// Command origin serves the demo origin alone, for the benchmark script.
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/cachegate/cachegate/demo"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "the `address` to serve on")
	flag.Parse()
	log.Fatal(http.ListenAndServe(*listen, demo.New()))
}
