package policy

import (
	"math"
	"time"
)

// RefreshEarly is the XFetch decision (Vattani, Chierichetti and
// Lowenstein, "Optimal Probabilistic Cache Stampede Prevention", VLDB
// 2015): refresh a fresh entry now when delta·beta·(−ln rnd) reaches its
// remaining freshness, where delta is how long its fill took and rnd is
// uniform in (0, 1]. A key requested continuously is then refreshed, once,
// shortly before it expires; beta above 1 refreshes earlier, 0 never.
func RefreshEarly(beta float64, delta, remaining time.Duration, rnd float64) bool {
	if beta <= 0 || remaining <= 0 || delta <= 0 || rnd <= 0 {
		return false
	}
	return float64(delta)*beta*-math.Log(rnd) >= float64(remaining)
}
