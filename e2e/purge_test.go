package e2e

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

// purge posts body to the instance's POST /purge with the test token.
func (in *instance) purge(body string) (*http.Response, string) {
	in.t.Helper()
	req, err := http.NewRequest(http.MethodPost, in.AdminURL+"/purge", strings.NewReader(body))
	if err != nil {
		in.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer test-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatalf("POST /purge: %v", err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, err = fmt.Fprint(&b, readAll(resp))
	if err != nil {
		in.t.Fatal(err)
	}
	return resp, b.String()
}

func readAll(resp *http.Response) string {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// threeInstances starts three instances on one Redis prefix.
func threeInstances(t *testing.T, o *origin, extra string) []*instance {
	return threeInstancesOn(t, "redis", o, extra)
}

// threeInstancesOn starts three instances of backend (redis or tiered) on
// one Redis prefix.
func threeInstancesOn(t *testing.T, backend string, o *origin, extra string) []*instance {
	prefix := testutil.UniquePrefix(t)
	var ins []*instance
	for range 3 {
		ins = append(ins, startInstance(t, setup{origin: o.URL, backend: backend, prefix: prefix, extra: extra}))
	}
	return ins
}

func TestPurgedContentIsServedByNoInstanceAfterThePurgeReturns(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	for _, backend := range []string{"redis", "tiered"} {
		t.Run(backend, func(t *testing.T) {
			o := startOrigin(t)
			ins := threeInstancesOn(t, backend, o, "")
			const path = "/max-age/600/article?tag=article-1"
			for round := range 5 {
				_, old := ins[0].get(path)
				for _, in := range ins {
					// Twice: the second read is the one an L1 admits.
					in.get(path)
					if _, body := in.get(path); body != old {
						t.Fatalf("round %d: instance %s did not serve the stored body before the purge", round, in.URL)
					}
				}
				resp, answer := ins[round%3].purge(`{"tags":["article-1"]}`)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("POST /purge: %d %s", resp.StatusCode, answer)
				}
				for _, in := range ins {
					if _, body := in.get(path); body == old {
						t.Fatalf("round %d: instance %s served purged content after the purge returned (%s)", round, in.URL, answer)
					}
				}
			}
		})
	}
}

func TestFillInFlightIsNeverServedAfterThePurge(t *testing.T) {
	o := startOrigin(t)
	ins := threeInstances(t, o, "")
	const path = "/slow/500/page?tag=slow"
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ins[0].get(path) // the fill: the origin answers after 500ms
	}()
	time.Sleep(150 * time.Millisecond) // let the fill reach the origin
	if resp, answer := ins[1].purge(`{"tags":["slow"]}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /purge: %d %s", resp.StatusCode, answer)
	}
	wg.Wait()
	for _, in := range ins {
		resp, body := in.get(path)
		if strings.Contains(body, "response 1 ") {
			t.Errorf("instance %s served the fill that started before the purge (Cache-Status %q)", in.URL, resp.Header.Get("Cache-Status"))
		}
	}
}

func TestPurgeScopesOverInstances(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := startOrigin(t)
	ins := threeInstances(t, o, `routes:
  - name: docs
    match: {path: /max-age/600/docs/}
`)
	paths := []string{"/max-age/600/blog/a", "/max-age/600/blog/a/b", "/max-age/600/blogger", "/max-age/600/docs/x"}
	for _, p := range paths {
		ins[0].get(p)
	}
	count := func() map[string]int {
		m := map[string]int{}
		for _, p := range paths {
			m[p] = o.Count(p)
		}
		return m
	}
	refetched := func(before map[string]int) []string {
		var got []string
		for _, p := range paths {
			ins[1].get(p)
			if o.Count(p) > before[p] {
				got = append(got, p)
			}
		}
		return got
	}
	check := func(body string, want ...string) {
		t.Helper()
		before := count()
		if resp, answer := ins[2].purge(body); resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /purge %s: %d %s", body, resp.StatusCode, answer)
		}
		got := refetched(before)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("purge %s refetched %v, want %v", body, got, want)
		}
	}
	check(`{"prefixes":["/max-age/600/blog/"]}`, "/max-age/600/blog/a", "/max-age/600/blog/a/b")
	check(`{"routes":["docs"]}`, "/max-age/600/docs/x")
	check(`{"hosts":["other.test"]}`)
	check(`{"hosts":["site.test"]}`, paths...)
	check(`{"all":true}`, paths...)
}

func TestSoftPurgeServesStaleAtOnceAndRefreshesOnce(t *testing.T) {
	o := startOrigin(t)
	ins := threeInstances(t, o, "")
	const path = "/slow/300/soft?tag=soft"
	_, old := ins[0].get(path)
	if resp, answer := ins[0].purge(`{"tags":["soft"],"soft":true}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /purge: %d %s", resp.StatusCode, answer)
	}
	start := time.Now()
	resp, body := ins[1].get(path)
	if body != old {
		t.Fatalf("after a soft purge: body %q, want the stale %q at once", body, old)
	}
	if time.Since(start) > 250*time.Millisecond {
		t.Logf("note: the stale answer took %v (the origin takes 300ms)", time.Since(start))
	}
	assertCacheStatus(t, resp.Header.Get("Cache-Status"), "soft-purged")
	for _, in := range ins {
		in.get(path)
	}
	testutil.Eventually(t, 10*time.Second, "the origin sees the refresh", func() bool { return o.Count("/slow/300/soft") >= 2 })
	time.Sleep(400 * time.Millisecond) // room for a second, unwanted refresh
	if n := o.Count("/slow/300/soft"); n != 2 {
		t.Errorf("origin saw %d requests, want 2 (the fill and one refresh)", n)
	}
	if _, body := ins[2].get(path); body == old {
		t.Errorf("after the refresh the old body is still served")
	}
}

func TestPurgeAPIRefusesWithoutTokenAndOnBadInput(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL})
	req, _ := http.NewRequest(http.MethodPost, in.AdminURL+"/purge", strings.NewReader(`{"all":true}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without token: %d, want 401", resp.StatusCode)
	}
	resp, body := in.purge(`{"urls":["not a url"]}`)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "absolute") {
		t.Errorf("bad URL: %d %q, want 400 saying why", resp.StatusCode, body)
	}
}

func TestPURGEMethodPurgesTheURL(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL})
	_, old := in.get("/max-age/600/p")
	resp, _ := in.do("PURGE", "/max-age/600/p", nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("PURGE without token: %d, want 401", resp.StatusCode)
	}
	resp, answer := in.do("PURGE", "/max-age/600/p", http.Header{"Authorization": {"Bearer test-token"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PURGE: %d %s", resp.StatusCode, answer)
	}
	if _, body := in.get("/max-age/600/p"); body == old {
		t.Errorf("PURGE did not purge the URL")
	}
}

func TestPurgeCommandIsAClientOfTheAdminAPI(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL})
	_, old := in.get("/max-age/600/cli?tag=cli")
	out, err := exec.Command(binary, "purge", "-config", in.cfgPath, "-tag", "cli").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"tags":["cli"]`) {
		t.Fatalf("cachegate purge -tag cli: %v\n%s", err, out)
	}
	if _, body := in.get("/max-age/600/cli?tag=cli"); body == old {
		t.Errorf("cachegate purge did not purge the tag")
	}
	out, err = exec.Command(binary, "purge", "-config", in.cfgPath, "-url", "relative").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "400") {
		t.Errorf("cachegate purge with a bad URL: %v %s, want a failure that shows the 400", err, out)
	}
}
