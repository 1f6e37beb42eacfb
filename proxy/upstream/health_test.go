package upstream

import (
	"testing"
	"time"

	"github.com/cachegate/cachegate/config"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func passive(maxFails int, failTimeout time.Duration) config.PassiveHealth {
	return config.PassiveHealth{MaxFails: maxFails, FailTimeout: config.Duration(failTimeout)}
}

func TestPassiveFailuresWithinTheWindowTakeAnUpstreamOutForTheCoolDown(t *testing.T) {
	h := newHealth(passive(3, 10*time.Second), config.Probe{}, true)
	if h.failed(t0) || h.failed(t0.Add(time.Second)) {
		t.Fatal("two failures of three took the upstream out")
	}
	if !h.up(t0.Add(2 * time.Second)) {
		t.Fatal("upstream out after two failures")
	}
	if !h.failed(t0.Add(3 * time.Second)) {
		t.Fatal("the third failure within 10s did not take the upstream out")
	}
	if h.up(t0.Add(12 * time.Second)) {
		t.Error("upstream up 9s into a 10s cool-down")
	}
	if !h.up(t0.Add(13 * time.Second)) {
		t.Error("upstream still out after its 10s cool-down")
	}
}

func TestPassiveFailuresSpreadBeyondTheWindowDoNotCount(t *testing.T) {
	h := newHealth(passive(2, 10*time.Second), config.Probe{}, true)
	h.failed(t0)
	if h.failed(t0.Add(11 * time.Second)) {
		t.Error("two failures 11s apart took the upstream out with fail_timeout 10s")
	}
	if !h.failed(t0.Add(12 * time.Second)) {
		t.Error("two failures 1s apart did not take the upstream out")
	}
}

func TestPassiveMarkingIsOffForALoneUpstreamOrMaxFailsZero(t *testing.T) {
	for _, h := range []*health{newHealth(passive(1, time.Minute), config.Probe{}, false), newHealth(passive(0, time.Minute), config.Probe{}, true)} {
		for i := range 10 {
			h.failed(t0.Add(time.Duration(i) * time.Millisecond))
		}
		if !h.up(t0.Add(time.Second)) {
			t.Error("upstream out though passive marking is off")
		}
	}
}

func probeConfig(window, threshold int, initial string) config.Probe {
	return config.Probe{Path: "/healthz", Window: window, Threshold: threshold, Initial: initial}
}

func TestProbesNeedThresholdGoodOfTheWindow(t *testing.T) {
	h := newHealth(passive(0, time.Second), probeConfig(5, 3, config.ProbeHealthy), true)
	if !h.up(t0) {
		t.Fatal("initial healthy: upstream out before any probe")
	}
	steps := []struct {
		good, up, changed bool
	}{
		{false, true, false}, // 4 of 5
		{false, true, false}, // 3 of 5
		{false, false, true}, // 2 of 5: out
		{true, false, false}, // 2 of 5 (the oldest good one left)
		{true, false, false}, // 2 of 5
		{true, true, true},   // 3 of 5: back
	}
	for i, s := range steps {
		if changed := h.probe(s.good); changed != s.changed || h.up(t0) != s.up {
			t.Fatalf("probe %d (good %v): up %v changed %v, want up %v changed %v", i+1, s.good, h.up(t0), changed, s.up, s.changed)
		}
	}
}

func TestAnUpstreamStartingSickNeedsThresholdGoodProbes(t *testing.T) {
	h := newHealth(passive(0, time.Second), probeConfig(8, 2, config.ProbeSick), true)
	if h.up(t0) {
		t.Fatal("initial sick: upstream up before any probe")
	}
	h.probe(true)
	if h.up(t0) {
		t.Fatal("up after one good probe, threshold 2")
	}
	if !h.probe(true) || !h.up(t0) {
		t.Error("not up after two good probes, threshold 2")
	}
}

func TestAProbedUpstreamInACoolDownStaysOut(t *testing.T) {
	h := newHealth(passive(1, 10*time.Second), probeConfig(1, 1, config.ProbeHealthy), true)
	h.failed(t0)
	h.probe(true)
	if h.up(t0.Add(time.Second)) {
		t.Error("a good probe ended a passive cool-down")
	}
}

func TestAReloadCarriesHealthOver(t *testing.T) {
	old := newHealth(passive(1, 10*time.Second), probeConfig(3, 3, config.ProbeHealthy), true)
	old.failed(t0)
	h := newHealth(passive(1, 10*time.Second), probeConfig(3, 3, config.ProbeHealthy), true)
	h.carry(old)
	if h.up(t0.Add(5 * time.Second)) {
		t.Error("the new upstream forgot the old one's cool-down")
	}
	old.probe(false)
	h = newHealth(passive(1, 10*time.Second), probeConfig(3, 3, config.ProbeHealthy), true)
	h.carry(old)
	if h.up(t0.Add(11 * time.Second)) {
		t.Error("the new upstream forgot the old one's bad probe")
	}
}
