package e2e

import (
	"testing"

	"github.com/cachegate/cachegate/internal/testutil"
)

// While Redis is down, the misses of one key on one instance still cost
// the origin one request (README: collapsing still works in the process):
// the fill's store write fails, and the requests that waited for it are
// served its response instead of each asking the origin (300 origin
// requests for 300 GETs before). The tiered store is used: its L1 keeps
// the entry the failed write left it, so that a request slow to arrive
// (after the fill ended) is served from it too, and the count does not
// depend on the machine's load. With the redis backend such a late request
// fetches again (a lookup that fails is a miss); the proxy package tests
// the waiters' side of it on a killed redis-server.
func TestABurstOfMissesOnOneInstanceWhileRedisIsDownReachesTheOriginOnce(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL, backend: "tiered", prefix: testutil.UniquePrefix(t)})
	testutil.Redis().Stop()
	defer func() {
		if err := testutil.Redis().Restart(); err != nil {
			t.Fatal(err)
		}
	}()
	const path = "/slow/200/redis-down-cold"
	statuses, bodies := burst(t, []*instance{in}, path, 300)
	for i, st := range statuses {
		if st != 200 || bodies[i] != bodies[0] {
			t.Fatalf("request %d: %d %q, want 200 and the body all others got (%q)", i, st, bodies[i], bodies[0])
		}
	}
	if n := o.Count(path); n != 1 {
		t.Errorf("origin saw %d requests for 300 concurrent GETs on one instance while Redis was down, want 1", n)
	}
}
