package upstream

import (
	"math/bits"
	"sync"
	"time"

	"github.com/cachegate/cachegate/config"
)

// health is an upstream's state: out while its last probes were bad
// (window/threshold), or while a passive cool-down runs. Every method
// takes the time, so that tests drive it with a clock of their own.
type health struct {
	mu sync.Mutex

	// Passive marking (nginx's max_fails, fail_timeout): maxFails failures
	// counted from firstFail within failTimeout take the upstream out
	// until downUntil. maxFails 0 turns it off.
	maxFails    int
	failTimeout time.Duration
	fails       int
	firstFail   time.Time
	downUntil   time.Time

	// Active probes (Varnish's .window, .threshold): results holds the
	// last window results, newest in bit 0; good while at least threshold
	// of them are set. probed is false when the backend has no probe.
	probed    bool
	window    int
	threshold int
	results   uint64
}

// newHealth returns the health of an upstream of a backend configured
// with passive and probe; passive is off when passiveOn is false (a
// backend of one upstream: taking it out would only turn errors into
// 503s, so nginx ignores max_fails there too).
func newHealth(passive config.PassiveHealth, probe config.Probe, passiveOn bool) *health {
	h := &health{failTimeout: passive.FailTimeout.D()}
	if passiveOn {
		h.maxFails = passive.MaxFails
	}
	if probe.Path != "" {
		h.probed, h.window, h.threshold = true, probe.Window, probe.Threshold
		if probe.Initial == config.ProbeHealthy {
			h.results = 1<<probe.Window - 1
		}
	}
	return h
}

// up reports whether the upstream may get requests at now.
func (h *health) up(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.probeGood() && !now.Before(h.downUntil)
}

// probeGood reports whether the probes let the upstream get requests.
func (h *health) probeGood() bool {
	return !h.probed || bits.OnesCount64(h.results) >= h.threshold
}

// failed records a failed request at now and reports whether it took
// the upstream out.
func (h *health) failed(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.maxFails == 0 || now.Before(h.downUntil) {
		return false
	}
	if h.fails == 0 || now.Sub(h.firstFail) > h.failTimeout {
		h.fails, h.firstFail = 0, now
	}
	h.fails++
	if h.fails < h.maxFails {
		return false
	}
	h.fails = 0
	h.downUntil = now.Add(h.failTimeout)
	return true
}

// probe records a probe's result and reports whether the probes' verdict
// changed (good to bad or bad to good).
func (h *health) probe(good bool) (changed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	before := h.probeGood()
	bit := uint64(0)
	if good {
		bit = 1
	}
	h.results = (h.results<<1 | bit) & (1<<h.window - 1)
	return h.probeGood() != before
}

// carry copies the state of prev, the same upstream before a reload, so
// that a reload neither revives a dead upstream nor forgets its failures.
func (h *health) carry(prev *health) {
	prev.mu.Lock()
	defer prev.mu.Unlock()
	h.fails, h.firstFail, h.downUntil = prev.fails, prev.firstFail, prev.downUntil
	if h.probed && prev.probed {
		h.results = prev.results & (1<<h.window - 1)
	}
}
