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

// DecideRefreshEarly decides whether a fresh entry with remaining
// freshness, whose fill took delta, is refreshed now in the background:
// never with beta 0 or once stale (then the stale rules apply), always
// once it has less than two fill times left (XFetch alone may draw its
// refresh so late that the refresh ends after expiry), else by XFetch
// (RefreshEarly) with rnd uniform in (0, 1].
func DecideRefreshEarly(beta float64, delta, remaining time.Duration, rnd float64) bool {
	if beta <= 0 || remaining <= 0 {
		return false
	}
	return remaining <= 2*delta || RefreshEarly(beta, delta, remaining, rnd)
}
