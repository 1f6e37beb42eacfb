package e2e

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// writeRules are invalidation rules on the demo origin: a PUT of a post
// purges its author's list page and the post's tag; the same write
// answered with an error (/status/CODE/...) names the same list.
const writeRules = `routes:
  - name: post-write
    match: {path: "/max-age/600/authors/{author}/posts/{id}", methods: [PUT]}
    invalidate:
      - urls: ["/max-age/600/authors/{author}"]
        tags: ["post-{id}"]
  - name: failing-write
    match: {path: "/status/{code}/authors/{author}/posts/{id}", methods: [PUT]}
    invalidate:
      - urls: ["/max-age/600/authors/{author}"]
        tags: ["post-{id}"]
`

// cachedEverywhere reads path on every instance until each serves it
// from its own cache (twice: the second read is the one an L1 admits) and
// returns the body they all serve.
func cachedEverywhere(t *testing.T, ins []*instance, path string) string {
	t.Helper()
	_, body := ins[0].get(path)
	for _, in := range ins {
		in.get(path)
		if _, got := in.get(path); got != body {
			t.Fatalf("instance %s does not serve the stored %s", in.URL, path)
		}
	}
	return body
}

// stillServed returns the instances that still serve old for path.
func stillServed(ins []*instance, path, old string) []string {
	var still []string
	for _, in := range ins {
		if _, body := in.get(path); body == old {
			still = append(still, in.URL)
		}
	}
	return still
}

func TestAPutThroughCachegatePurgesTheRelatedListPageOnEveryInstance(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := startOrigin(t)
	ins := threeInstancesOn(t, "tiered", o, writeRules)
	const list, post, other = "/max-age/600/authors/ann", "/max-age/600/posts/42?tag=post-42", "/max-age/600/authors/bob"
	for round := range 3 {
		oldList, oldPost, oldOther := cachedEverywhere(t, ins, list), cachedEverywhere(t, ins, post), cachedEverywhere(t, ins, other)
		resp, _ := ins[round].do(http.MethodPut, "/max-age/600/authors/ann/posts/42", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT: %d", resp.StatusCode)
		}
		// The PUT's answer has arrived: every instance must have applied
		// the rule's purge.
		if still := stillServed(ins, list, oldList); len(still) > 0 {
			t.Fatalf("round %d: the author's list is still served by %v after the PUT answered", round, still)
		}
		if still := stillServed(ins, post, oldPost); len(still) > 0 {
			t.Fatalf("round %d: the post tagged post-42 is still served by %v after the PUT answered", round, still)
		}
		if still := stillServed(ins, other, oldOther); len(still) != len(ins) {
			t.Fatalf("round %d: another author's list was purged by the PUT", round)
		}
	}
	// Counted where it ran, and logged with its source.
	for round, in := range ins {
		if _, metrics := in.admin(http.MethodGet, "/metrics"); !strings.Contains(metrics, `cachegate_rule_invalidations_total{result="purged",route="post-write"} 1`) {
			t.Errorf("instance %d does not count the rule's purge", round)
		}
		if !strings.Contains(in.log.String(), `source=rule by="post-write PUT `) {
			t.Errorf("instance %d does not log the rule's purge with its source", round)
		}
	}
}

func TestAFailedPutPurgesNothing(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := startOrigin(t)
	ins := threeInstancesOn(t, "tiered", o, writeRules)
	const list = "/max-age/600/authors/ann"
	old := cachedEverywhere(t, ins, list)
	fetched := o.Count(list)
	for _, code := range []string{"500", "503", "409"} {
		resp, _ := ins[1].do(http.MethodPut, "/status/"+code+"/authors/ann/posts/42", nil)
		if resp.Status[:3] != code {
			t.Fatalf("PUT answered %s, want %s", resp.Status, code)
		}
		if still := stillServed(ins, list, old); len(still) != len(ins) || o.Count(list) != fetched {
			t.Fatalf("a PUT answered %s purged the author's list (still served by %d of %d instances)", code, len(still), len(ins))
		}
	}
}

func TestAPatternPurgeTakesEveryPathItMatchesOnEveryInstanceAndNoOther(t *testing.T) {
	t.Parallel() // its own origin and Redis prefix; waits on instances, measures no time
	o := startOrigin(t)
	ins := threeInstancesOn(t, "tiered", o, "")
	const a, bc, other = "/max-age/600/users/42/a", "/max-age/600/users/42/b/c", "/max-age/600/users/421/a"
	oldA, oldBC, oldOther := cachedEverywhere(t, ins, a), cachedEverywhere(t, ins, bc), cachedEverywhere(t, ins, other)
	resp, answer := ins[0].purge(`{"patterns":["/max-age/600/users/42/**"]}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(answer, `"patterns":["/max-age/600/users/42/**"]`) {
		t.Fatalf("POST /purge: %d %s", resp.StatusCode, answer)
	}
	for path, old := range map[string]string{a: oldA, bc: oldBC} {
		if still := stillServed(ins, path, old); len(still) > 0 {
			t.Errorf("%s is still served by %v after the pattern purge returned", path, still)
		}
	}
	if still := stillServed(ins, other, oldOther); len(still) != len(ins) {
		t.Errorf("the pattern /users/42/** purged %s", other)
	}
	// The command line, on another instance.
	out, err := exec.Command(binary, "purge", "-config", ins[2].cfgPath, "-pattern", "/max-age/600/users/421/*").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"patterns":["/max-age/600/users/421/*"]`) {
		t.Fatalf("cachegate purge -pattern: %v\n%s", err, out)
	}
	if still := stillServed(ins, other, oldOther); len(still) > 0 {
		t.Errorf("%s is still served by %v after cachegate purge -pattern", other, still)
	}
	out, err = exec.Command(binary, "purge", "-config", ins[2].cfgPath, "-pattern", "/users/[42").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "400") || !strings.Contains(string(out), "not a valid glob") {
		t.Errorf("cachegate purge with a bad pattern: %v %s, want a failure that shows the 400 and why", err, out)
	}
}
