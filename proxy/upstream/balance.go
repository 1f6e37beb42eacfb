package upstream

import (
	"math"
	"math/rand/v2"
	"sync"

	"github.com/cachegate/cachegate/config"
)

// balancer picks one of the candidates (healthy, at least one) for a
// request; key is the request's cache key (or its target when it has
// none).
type balancer interface {
	pick(candidates []*Upstream, key string) *Upstream
}

// newBalancer returns the balancer named by a backend's balance.
func newBalancer(name string) balancer {
	switch name {
	case config.BalanceLeastConn:
		return leastConn{}
	case config.BalanceRandomTwo:
		return randomTwo{}
	case config.BalanceHash:
		return rendezvous{}
	}
	return &roundRobin{}
}

// roundRobin is nginx's smooth weighted round robin: each pick adds every
// candidate's weight to its current weight and takes the largest, which
// then gives back the total. Weights 5, 1, 1 give a a b a c a a, not
// a a a a a b c.
type roundRobin struct {
	mu      sync.Mutex
	current map[*Upstream]int
}

func (rr *roundRobin) pick(candidates []*Upstream, _ string) *Upstream {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if rr.current == nil {
		rr.current = map[*Upstream]int{}
	}
	var best *Upstream
	total := 0
	for _, u := range candidates {
		rr.current[u] += u.Weight
		total += u.Weight
		if best == nil || rr.current[u] > rr.current[best] {
			best = u
		}
	}
	rr.current[best] -= total
	return best
}

// leastConn takes the candidate with the fewest requests in flight per
// unit of weight; ties go to a random one of them, so that an idle
// backend's first requests spread.
type leastConn struct{}

func (leastConn) pick(candidates []*Upstream, _ string) *Upstream {
	start := rand.IntN(len(candidates))
	best := candidates[start]
	for i := 1; i < len(candidates); i++ {
		u := candidates[(start+i)%len(candidates)]
		if fewer(u, best) {
			best = u
		}
	}
	return best
}

// fewer reports whether a has fewer requests in flight than b per unit of
// weight.
func fewer(a, b *Upstream) bool {
	return a.InFlight()*int64(b.Weight) < b.InFlight()*int64(a.Weight)
}

// randomTwo draws two candidates by weight and takes the one with fewer
// requests in flight ("the power of two choices", Mitzenmacher 2001):
// nearly least_conn's spread without its herd on the one idle upstream.
type randomTwo struct{}

func (randomTwo) pick(candidates []*Upstream, _ string) *Upstream {
	a, b := drawByWeight(candidates), drawByWeight(candidates)
	if fewer(b, a) {
		return b
	}
	return a
}

// drawByWeight draws one candidate with probability proportional to its
// weight.
func drawByWeight(candidates []*Upstream) *Upstream {
	total := 0
	for _, u := range candidates {
		total += u.Weight
	}
	n := rand.IntN(total)
	for _, u := range candidates {
		if n -= u.Weight; n < 0 {
			return u
		}
	}
	return candidates[len(candidates)-1]
}

// rendezvous is weighted rendezvous hashing (Thaler and Ravishankar,
// 1998; weights as Schindelhauer and Schomaker, 2005): each upstream
// scores a key by a hash of both, and the key goes to the best score among
// the candidates. A key stays on its upstream while that is healthy; when
// one upstream goes away, only its keys move, spread over the others.
type rendezvous struct{}

func (rendezvous) pick(candidates []*Upstream, key string) *Upstream {
	var best *Upstream
	bestScore := math.Inf(-1)
	for _, u := range candidates {
		if s := score(u, key); s > bestScore {
			best, bestScore = u, s
		}
	}
	return best
}

// score is u's weighted rendezvous score for key: -w / ln(h) for h, the
// hash of the upstream and the key, mapped into (0, 1).
func score(u *Upstream, key string) float64 {
	h := fnv64(u.Label, key)
	x := (float64(h>>11) + 0.5) / (1 << 53)
	return -float64(u.Weight) / math.Log(x)
}

// fnv64 hashes an upstream's label and a key: FNV-1a, then the splitmix64
// finalizer to spread FNV's weak high bits. It is fixed (no random seed)
// so that every instance of cachegate, and every restart, sends a key to
// the same upstream.
func fnv64(label, key string) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := 0; i < len(label); i++ {
		h = (h ^ uint64(label[i])) * prime
	}
	h = (h ^ 0xff) * prime // a separator no label ends with
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * prime
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}
