package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/demo"
	"github.com/cachegate/cachegate/internal/testutil"
)

// concurrencyOrigin is a demo origin that records the most requests it
// had in flight at once.
type concurrencyOrigin struct {
	*origin
	inFlight, most atomic.Int64
}

func startConcurrencyOrigin(t *testing.T) *concurrencyOrigin {
	t.Helper()
	o := &concurrencyOrigin{origin: &origin{Origin: demo.New()}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := o.inFlight.Add(1)
		defer o.inFlight.Add(-1)
		for m := o.most.Load(); n > m && !o.most.CompareAndSwap(m, n); m = o.most.Load() {
		}
		o.Origin.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	o.URL = srv.URL
	return o
}

// burst sends n concurrent GETs of path, spread over the instances, and
// returns the statuses and bodies.
func burst(t *testing.T, ins []*instance, path string, n int) ([]int, []string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: 0}}
	defer client.CloseIdleConnections()
	statuses, bodies := make([]int, n), make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest(http.MethodGet, ins[i%len(ins)].URL+path, nil)
			req.Host = siteHost
			resp, err := client.Do(req)
			if err != nil {
				bodies[i] = err.Error()
				return
			}
			defer resp.Body.Close()
			statuses[i], bodies[i] = resp.StatusCode, readAll(resp)
		}()
	}
	close(start)
	wg.Wait()
	return statuses, bodies
}

// redisFailed returns a line of the instances' logs that shows Redis
// failing one of them (a store operation or a lease that got no answer in
// time, the breaker opening), or "". Requests then go to the origin by
// design (DESIGN.md: Redis down), so that a burst may reach it more than
// once: on a machine too busy for Redis to answer within its timeouts,
// the collapsing tests cannot ask for one origin request.
func redisFailed(ins []*instance) string {
	for _, in := range ins {
		for _, line := range strings.Split(in.log.String(), "\n") {
			for _, sign := range []string{`level=ERROR msg="store `, "store: circuit open", "collapse: no lease from Redis", "collapse: Redis did not answer", "collapse: releasing the lease"} {
				if strings.Contains(line, sign) {
					return line
				}
			}
		}
	}
	return ""
}

// checkBurstReachedTheOriginOnce checks that every request of a burst
// over ins got 200 and the one body that the origin's only response for
// path carried, unless Redis failed an instance meanwhile (redisFailed):
// then more origin requests are allowed, and logged with the failure.
func checkBurstReachedTheOriginOnce(t *testing.T, ins []*instance, o *origin, path string, statuses []int, bodies []string) {
	t.Helper()
	for i, st := range statuses {
		if st != 200 {
			t.Fatalf("request %d: %d %q, want 200", i, st, bodies[i])
		}
	}
	n := o.Count(path)
	same := true
	for _, b := range bodies {
		same = same && b == bodies[0]
	}
	if n == 1 && same {
		return
	}
	if line := redisFailed(ins); line != "" {
		t.Logf("origin saw %d requests for %d GETs, allowed: Redis failed an instance meanwhile, which sends requests to the origin by design: %s", n, len(bodies), line)
		return
	}
	t.Errorf("origin saw %d requests for %d concurrent GETs over %d instances (all got the same body: %v), want 1", n, len(bodies), len(ins), same)
}

func TestColdKeyBurstOverThreeInstancesReachesTheOriginOnce(t *testing.T) {
	o := startOrigin(t)
	ins := threeInstances(t, o, "")
	const path = "/slow/200/cold"
	statuses, bodies := burst(t, ins, path, 500)
	checkBurstReachedTheOriginOnce(t, ins, o, path, statuses, bodies)
	t.Logf("500 GETs over 3 instances: origin requests %d", o.Count(path))
}

func TestUncacheableBurstIsNotSerialized(t *testing.T) {
	o := startConcurrencyOrigin(t)
	ins := threeInstances(t, o.origin, "")
	const path = "/slow/200/private?cc=no-store"
	statuses, bodies := burst(t, ins, path, 300)
	seen := map[string]bool{}
	for i := range statuses {
		if statuses[i] != 200 {
			t.Fatalf("request %d: %d %q", i, statuses[i], bodies[i])
		}
		if seen[bodies[i]] {
			t.Fatalf("two clients got the same no-store response %q", bodies[i])
		}
		seen[bodies[i]] = true
	}
	// Serialized requests would reach the origin one at a time; after the
	// first fill says no-store, the waiters must all go at once.
	if most := o.most.Load(); most < 50 {
		t.Errorf("at most %d requests reached the origin at once, want the waiters released together (>= 50)", most)
	}
	t.Logf("300 no-store GETs: %d origin requests, up to %d at once", o.Count("/slow/200/private"), o.most.Load())
}

func TestContinuouslyRequestedKeyNeverWaitsOnTheOrigin(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL, backend: "redis", prefix: testutil.UniquePrefix(t)})
	// max-age=2: Date has a resolution of one second, so an entry arrives
	// up to a second old (RFC 9111 §4.2.3) and lives one to two seconds.
	path := "/slow/100/hot?cc=" + url.QueryEscape("max-age=2")
	in.get(path)
	start := time.Now()
	requests, misses := 0, 0
	for time.Since(start) < 6*time.Second {
		resp, _ := in.get(path)
		requests++
		if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "; hit") {
			misses++
			t.Logf("request %d after %v waited on the origin: %s", requests, time.Since(start), cs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	n := o.Count("/slow/100/hot")
	t.Logf("%d requests over 6s with a 2s TTL: %d origin requests, %d not hits", requests, n, misses)
	if misses > 0 {
		t.Errorf("%d requests waited on the origin after the first, want 0", misses)
	}
	if n < 3 || n > 9 {
		t.Errorf("origin saw %d requests over 6s with entries living 1 to 2s, want about one per TTL", n)
	}
}

func TestOriginDownServesStaleOnlyWhereAllowed(t *testing.T) {
	o := demo.New()
	srv := httptest.NewServer(o)
	in := startInstance(t, setup{origin: srv.URL})
	inside := "/max-age/0/a?cc=" + url.QueryEscape("max-age=0, stale-if-error=600")
	unreachable := "/max-age/0/b?cc=" + url.QueryEscape("max-age=0")
	forbidden := "/max-age/0/c?cc=" + url.QueryEscape("max-age=0, must-revalidate")
	_, stale := in.get(inside)
	_, staleB := in.get(unreachable)
	in.get(forbidden)
	srv.Close()
	resp, body := in.get(inside)
	if resp.StatusCode != 200 || body != stale {
		t.Errorf("origin down, inside stale-if-error: %d %q, want 200 with the stale body", resp.StatusCode, body)
	}
	resp, body = in.get(unreachable)
	if resp.StatusCode != 200 || body != staleB || !strings.Contains(resp.Header.Get("Cache-Status"), "detail=origin-unreachable") {
		t.Errorf("origin down, no stale-if-error, within stale_if_unreachable (default 5m): %d %q %q, want 200 with the stale body (RFC 9111 §4.2.4)", resp.StatusCode, body, resp.Header.Get("Cache-Status"))
	}
	resp, body = in.get(forbidden)
	if resp.StatusCode != http.StatusBadGateway && resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("origin down, must-revalidate: %d %q, want 502 or 504", resp.StatusCode, body)
	}
}

func TestRedisOutageCausesNoErrorsAndStoringResumes(t *testing.T) {
	o := startOrigin(t)
	prefix := testutil.UniquePrefix(t)
	in := startInstance(t, setup{origin: o.URL, backend: "redis", prefix: prefix})
	var stop atomic.Bool
	var total, failed atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				req, _ := http.NewRequest(http.MethodGet, in.URL+"/max-age/60/load/"+string(rune('a'+w))+"/"+string(rune('0'+i%10)), nil)
				req.Host = siteHost
				resp, err := http.DefaultClient.Do(req)
				total.Add(1)
				if err != nil || resp.StatusCode >= 500 {
					failed.Add(1)
				}
				if err == nil {
					readAll(resp)
					resp.Body.Close()
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	testutil.Redis().Stop()
	time.Sleep(time.Second)
	if err := testutil.Redis().Restart(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()
	t.Logf("%d requests during a Redis outage: %d errors or 5xx", total.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed or got a 5xx while Redis was down", failed.Load(), total.Load())
	}
	// Stored to Redis again, without a restart: a second instance serves
	// what the first stores now (once the circuit breaker's probe closed
	// it, within a second or two).
	other := startInstance(t, setup{origin: o.URL, backend: "redis", prefix: prefix})
	for i := 0; ; i++ {
		path := fmt.Sprintf("/max-age/60/after-outage/%d", i)
		_, body := in.get(path)
		if _, got := other.get(path); got == body {
			break
		}
		if i == 100 {
			t.Fatalf("after Redis came back, nothing the first instance stored reached the second")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
