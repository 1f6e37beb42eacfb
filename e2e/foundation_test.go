package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/internal/testutil"
)

// assertCacheStatus fails unless the response's Cache-Status contains want.
func assertCacheStatus(t *testing.T, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Errorf("Cache-Status = %q, want it to contain %q", got, want)
	}
}

func TestSecondGetIsAHit(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	for _, backend := range []string{"memory", "redis", "tiered"} {
		t.Run(backend, func(t *testing.T) {
			o := startOrigin(t)
			in := startInstance(t, setup{origin: o.URL, backend: backend, prefix: testutil.UniquePrefix(t)})
			resp1, body1 := in.get("/max-age/60/page")
			assertCacheStatus(t, resp1.Header.Get("Cache-Status"), "fwd=uri-miss")
			resp2, body2 := in.get("/max-age/60/page")
			if body2 != body1 {
				t.Errorf("second body = %q, want the first %q", body2, body1)
			}
			assertCacheStatus(t, resp2.Header.Get("Cache-Status"), "hit")
			if resp2.Header.Get("Age") == "" {
				t.Error("a hit carries no Age")
			}
			if n := o.Count("/max-age/60/page"); n != 1 {
				t.Errorf("origin saw %d requests, want 1", n)
			}
		})
	}
}

func TestAnEntryStoredInRedisIsAHitForTheNextProcess(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	for _, tc := range []struct {
		name string
		// next is the process that asks after first stored the entry.
		next func(t *testing.T, first *instance, s setup) *instance
	}{
		{"the same instance restarted", func(_ *testing.T, first *instance, _ setup) *instance { first.restart(); return first }},
		{"a second instance", func(t *testing.T, _ *instance, s setup) *instance { return startInstance(t, s) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := startOrigin(t)
			s := setup{origin: o.URL, backend: "redis", prefix: testutil.UniquePrefix(t)}
			first := startInstance(t, s)
			_, body1 := first.get("/max-age/60/shared")
			resp, body2 := tc.next(t, first, s).get("/max-age/60/shared")
			if body2 != body1 {
				t.Errorf("body = %q, want the first's stored %q", body2, body1)
			}
			assertCacheStatus(t, resp.Header.Get("Cache-Status"), "hit")
			if n := o.Count("/max-age/60/shared"); n != 1 {
				t.Errorf("origin saw %d requests, want 1", n)
			}
		})
	}
}

func TestNoStoreResponseIsNeverStored(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) {
			o := startOrigin(t)
			in := startInstance(t, setup{origin: o.URL, backend: backend, prefix: testutil.UniquePrefix(t)})
			var bodies []string
			for range 3 {
				resp, body := in.get("/no-store/x")
				if strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
					t.Errorf("Cache-Status = %q for a no-store response", resp.Header.Get("Cache-Status"))
				}
				bodies = append(bodies, body)
			}
			if n := o.Count("/no-store/x"); n != 3 {
				t.Errorf("origin saw %d requests for 3 GETs of a no-store response, want 3", n)
			}
			if bodies[0] == bodies[1] || bodies[1] == bodies[2] {
				t.Errorf("a no-store body was served twice: %q", bodies)
			}
		})
	}
}

func TestValidateRefusesABadConfigWithFileLineAndOption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	config := "origin: http://127.0.0.1:9\nroutes:\n  - name: a\n    match: {path: /a/}\n    tll: 5m\n  - name: b\n    match: {path: /b/}\n    ttl: 5x\n"
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "validate", "-config", path).CombinedOutput()
	if err == nil {
		t.Fatalf("validate accepted a bad config:\n%s", out)
	}
	for _, want := range []string{path + ":5: routes[0].tll", path + ":8: routes[1].ttl"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("validate said:\n%s\nwant it to name %q", out, want)
		}
	}
}
