package proxy

import (
	"testing"

	"github.com/cachegate/cachegate/metrics"
	"github.com/cachegate/cachegate/policy"
)

func TestAHitServedWhileRedisIsDownCountsAsAHitNotStale(t *testing.T) {
	x := &exchange{status: policy.CacheStatus{Name: "cachegate", Hit: true, Detail: detailRedisDown}}
	if got := metricStatus(x); got != metrics.CacheHit {
		t.Errorf("metric status of a fresh L1 hit during a Redis outage = %q, want %q", got, metrics.CacheHit)
	}
	if got, want := x.status.String(), "cachegate; hit; detail=redis-down"; got != want {
		t.Errorf("Cache-Status = %q, want %q (RFC 9211 §2.8)", got, want)
	}
}
