package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

// previewKeepsQuery is a config with two routes storing the same URLs
// under different URL forms: requests with X-Preview keep every query
// parameter in their key, the others drop utm_* (the default ignore_query).
const previewKeepsQuery = `routes:
  - name: preview
    match:
      path: /max-age/
      headers: [{name: X-Preview, present: true}]
    key: {headers: [X-Preview], ignore_query: []}
`

func TestAPostThroughOneInstanceInvalidatesEveryFormARouteStoresItsURLUnderOnBoth(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := startOrigin(t)
	prefix := testutil.UniquePrefix(t)
	var ins []*instance
	for range 2 {
		ins = append(ins, startInstance(t, setup{origin: o.URL, backend: "tiered", prefix: prefix, extra: previewKeepsQuery}))
	}
	const target = "/max-age/600/page?a=1&utm_source=mail"
	forms := map[string]http.Header{
		"the preview route's (query kept whole)":   {"X-Preview": {"1"}},
		"the default route's (utm_source dropped)": nil,
	}
	// Each instance holds each form's entry, in L1 too (admitted at its
	// second request).
	before := map[string]string{}
	for _, in := range ins {
		for whose, h := range forms {
			in.do(http.MethodGet, target, h)
			resp, body := in.do(http.MethodGet, target, h)
			if !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
				t.Fatalf("before the POST, %s entry: Cache-Status %q, want a hit", whose, resp.Header.Get("Cache-Status"))
			}
			before[whose] = body
		}
	}
	// A POST without X-Preview takes the default route.
	if resp, _ := ins[0].do(http.MethodPost, target, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	// RFC 9111 §4.4: no instance serves an entry of the URL stored before
	// the POST, under whichever route's form. The mark reaches the other
	// instance by pub/sub: poll, bounded.
	for i, in := range ins {
		for whose, h := range forms {
			testutil.Eventually(t, 5*time.Second, fmt.Sprintf("instance %d stops serving %s entry stored before a POST to its URL", i, whose), func() bool {
				_, body := in.do(http.MethodGet, target, h)
				return body != before[whose]
			})
		}
	}
	if n := urlMarks(t, prefix); n != 2 {
		t.Errorf("the POST left %d URL marks, want 2 (one per form)", n)
	}
}
