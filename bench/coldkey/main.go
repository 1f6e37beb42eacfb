// Command coldkey sends N concurrent GETs of one cold key (an origin path
// that answers after DELAY ms) and prints the latency percentiles and
// their ratio to the origin's latency, for the benchmark script.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "the cache's base `URL`")
	n := flag.Int("n", 500, "concurrent `requests`")
	delay := flag.Int("delay", 200, "the origin's latency in `ms` (the demo origin's /slow/MS/ path)")
	flag.Parse()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *n, MaxConnsPerHost: 0}, Timeout: 30 * time.Second}
	url := fmt.Sprintf("%s/slow/%d/cold-%d", *base, *delay, rand.Int64())
	// Open the connections first, so that the burst measures the cache,
	// not TCP handshakes.
	var wg sync.WaitGroup
	for range *n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := client.Get(*base + "/bytes/1/warm-connections"); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	lat := make([]time.Duration, *n)
	errs := 0
	var mu sync.Mutex
	start := make(chan struct{})
	for i := range *n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t := time.Now()
			resp, err := client.Get(url)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			lat[i] = time.Since(t)
			if err != nil || resp.StatusCode != 200 {
				mu.Lock()
				errs++
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	slices.Sort(lat)
	d := time.Duration(*delay) * time.Millisecond
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	fmt.Printf("p50 %.1f ms (%.2fx origin), p99 %.1f ms (%.2fx origin), errors %d\n",
		ms(p50), float64(p50)/float64(d), ms(p99), float64(p99)/float64(d), errs)
	if errs > 0 {
		log.SetOutput(os.Stderr)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
