package upstream

import (
	"fmt"
	"math"
	"testing"
)

// upstreams returns upstreams named a, b, c... with the given weights.
func upstreams(weights ...int) []*Upstream {
	var us []*Upstream
	for i, w := range weights {
		us = append(us, &Upstream{Label: fmt.Sprintf("%c:80", 'a'+i), Weight: w})
	}
	return us
}

// counts picks n times and counts the picks per label.
func counts(b balancer, us []*Upstream, n int, key func(i int) string) map[*Upstream]int {
	got := map[*Upstream]int{}
	for i := range n {
		got[b.pick(us, key(i))]++
	}
	return got
}

func noKey(int) string { return "" }

func TestRoundRobinSpreadsByWeightAndInterleaves(t *testing.T) {
	us := upstreams(5, 1, 1)
	rr := &roundRobin{}
	var order string
	for range 7 {
		order += rr.pick(us, "").Label[:1]
	}
	if order != "aabacaa" {
		t.Errorf("smooth weighted round robin of 5, 1, 1 gave %s, want aabacaa (nginx's order)", order)
	}
	got := counts(rr, upstreams(1, 1, 1), 300, noKey)
	for u, n := range got {
		if n != 100 {
			t.Errorf("%s got %d of 300 picks with equal weights, want 100", u.Label, n)
		}
	}
}

func TestRoundRobinSkipsAnUpstreamThatLeftTheCandidates(t *testing.T) {
	us := upstreams(1, 1, 1)
	rr := &roundRobin{}
	got := counts(rr, us[:2], 10, noKey)
	if got[us[0]] != 5 || got[us[1]] != 5 || got[us[2]] != 0 {
		t.Errorf("picks among a and b: %v, want 5 each and none for c", byLabel(got))
	}
}

func TestLeastConnTakesTheUpstreamWithFewestInFlightPerWeight(t *testing.T) {
	us := upstreams(1, 1, 2)
	us[0].inflight.Store(3)
	us[1].inflight.Store(1)
	us[2].inflight.Store(3) // 1.5 per unit of weight
	for range 20 {
		if got := (leastConn{}).pick(us, ""); got != us[1] {
			t.Fatalf("least_conn picked %s, want b (1 in flight, weight 1)", got.Label)
		}
	}
	us[1].inflight.Store(2)
	if got := (leastConn{}).pick(us, ""); got != us[2] {
		t.Errorf("least_conn picked %s, want c (3 in flight at weight 2 beats 2 at weight 1)", got.Label)
	}
}

func TestLeastConnSpreadsTiesRandomly(t *testing.T) {
	got := counts(leastConn{}, upstreams(1, 1, 1), 300, noKey)
	if len(got) != 3 {
		t.Errorf("least_conn with nothing in flight picked only %v, want all three", byLabel(got))
	}
}

func TestRandomTwoNeverPicksTheBusiestOfTwoAndSpreadsByWeight(t *testing.T) {
	us := upstreams(1, 1)
	us[0].inflight.Store(10)
	idle := upstreams(1, 3)
	got := counts(randomTwo{}, idle, 4000, noKey)
	if got[idle[1]] < 2*got[idle[0]] {
		t.Errorf("random_two with weights 1 and 3 and nothing in flight: %v, want b well ahead", byLabel(got))
	}
	busy := counts(randomTwo{}, us, 1000, noKey)
	if busy[us[1]] < 650 {
		t.Errorf("random_two with a busy: %v, want b about 75%% (a only when drawn twice)", byLabel(busy))
	}
}

func TestHashKeepsAKeyOnOneUpstreamAndMovesFewKeysWhenOneGoes(t *testing.T) {
	us := upstreams(1, 1, 1, 1)
	const n = 4000
	key := func(i int) string { return fmt.Sprintf("example.com/page/%d", i) }
	before := make([]*Upstream, n)
	per := map[*Upstream]int{}
	for i := range n {
		before[i] = rendezvous{}.pick(us, key(i))
		per[before[i]]++
		if again := (rendezvous{}).pick(us, key(i)); again != before[i] {
			t.Fatalf("key %d went to %s, then %s", i, before[i].Label, again.Label)
		}
	}
	for u, c := range per {
		if math.Abs(float64(c)-n/4) > n/4*0.15 {
			t.Errorf("%s holds %d of %d keys, want about %d", u.Label, c, n, n/4)
		}
	}
	moved := 0
	for i := range n {
		after := rendezvous{}.pick(us[:3], key(i))
		if before[i] != us[3] && after != before[i] {
			t.Fatalf("key %d moved from %s to %s though its upstream stayed", i, before[i].Label, after.Label)
		}
		if after != before[i] {
			moved++
		}
	}
	if moved != per[us[3]] {
		t.Errorf("%d keys moved when d went, want exactly d's %d", moved, per[us[3]])
	}
}

func TestHashFollowsWeights(t *testing.T) {
	us := upstreams(1, 3)
	got := counts(rendezvous{}, us, 4000, func(i int) string { return fmt.Sprint("k", i) })
	if r := float64(got[us[1]]) / float64(got[us[0]]); r < 2.5 || r > 3.5 {
		t.Errorf("hash with weights 1 and 3: %v, want b about 3 times a", byLabel(got))
	}
}

func byLabel(m map[*Upstream]int) map[string]int {
	out := map[string]int{}
	for u, n := range m {
		out[u.Label] = n
	}
	return out
}
