package config

import (
	"testing"
	"time"
)

func TestL1WhenRedisDownDefaultsTo30sAndZeroTurnsItOff(t *testing.T) {
	if got := mustParse(t, "origin: http://o\n").Store.Tiered.L1WhenRedisDown; got.D() != 30*time.Second {
		t.Errorf("store.tiered.l1_when_redis_down unset = %v, want 30s", got)
	}
	if got := mustParse(t, "origin: http://o\nstore:\n  tiered:\n    l1_when_redis_down: 0\n").Store.Tiered.L1WhenRedisDown; got != 0 {
		t.Errorf("store.tiered.l1_when_redis_down: 0 = %v, want 0 (off)", got)
	}
	got := parseErr(t, "origin: http://o\nstore:\n  tiered:\n    l1_when_redis_down: -5s\n")
	wantLines(t, got, `cfg.yaml:4: store.tiered.l1_when_redis_down: invalid duration "-5s"`)
}
