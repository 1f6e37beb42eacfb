package purge

import (
	"context"
	"fmt"
	"strings"
)

// checkPolicy reads Redis's maxmemory-policy (at start and on every
// reconnect) and says what it means for purges. Redis may refuse CONFIG
// (ACLs, managed services): then nothing is known and nothing is said
// beyond a debug line.
func (r *Redis) checkPolicy(ctx context.Context) {
	vals, err := r.client.ConfigGet(ctx, "maxmemory-policy").Result()
	policy, ok := vals["maxmemory-policy"]
	if err != nil || !ok {
		r.log.Debug("purge: cannot read Redis's maxmemory-policy", "err", err)
		return
	}
	if old := r.policy.Swap(&policy); old != nil && *old == policy {
		return
	}
	switch {
	case evicts(policy):
		r.log.Warn("purge: Redis's maxmemory-policy can evict the purge state, which has no TTL; "+
			"each eviction costs a flush (every entry filled before counts as purged), never a stale hit; "+
			"volatile-lru (or noeviction with a maxmemory that fits) keeps it", "maxmemory-policy", policy)
	case policy == "noeviction":
		r.log.Info("purge: Redis's maxmemory-policy is noeviction: when Redis is full, fills are not stored "+
			"and invalidations are applied here and retried until Redis takes them", "maxmemory-policy", policy)
	default:
		r.log.Info("purge: Redis's maxmemory-policy evicts only keys with a TTL; the purge state has none",
			"maxmemory-policy", policy)
	}
}

// evicts says whether a maxmemory-policy may evict keys without a TTL,
// such as the purge state (allkeys-lru, allkeys-lfu, allkeys-random).
func evicts(policy string) bool { return strings.HasPrefix(policy, "allkeys-") }

// Degraded says why purges are not as safe or as cheap as they should be,
// or "": the marks are not loaded or the lease expired (lookups read the
// sequence first), invalidations wait for Redis, or Redis may evict the
// purge state.
func (r *Redis) Degraded() string {
	var reasons []string
	switch {
	case !r.sub.Healthy():
		reasons = append(reasons, "purge subscription down: every lookup checks Redis for purges")
	case !r.leaseValid():
		reasons = append(reasons, "purge marks not loaded (or not confirmed within the lease): lookups read the purge sequence first")
	}
	if n, _, err := r.Pending(); n > 0 {
		reasons = append(reasons, fmt.Sprintf("%d invalidation(s) refused by Redis, applied here and pending: %v", n, err))
	}
	if p := r.policy.Load(); p != nil && evicts(*p) {
		reasons = append(reasons, fmt.Sprintf("Redis maxmemory-policy %s can evict the purge state (each eviction costs a flush); use volatile-lru or noeviction", *p))
	}
	return strings.Join(reasons, "; ")
}
