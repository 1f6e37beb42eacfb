package collapse

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/store/redistest"
)

var server *redistest.Server

func TestMain(m *testing.M) {
	var err error
	server, err = redistest.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	server.Close()
	os.Exit(code)
}

var runs atomic.Int64

// uniquePrefix keeps the runs of a test (-count) apart in one Redis.
func uniquePrefix(t *testing.T) string { return fmt.Sprintf("%s-%d", t.Name(), runs.Add(1)) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// withDefaults is opts with the bounds it leaves zero at cache.collapse's
// defaults (config.Default), as main passes them.
func withDefaults(opts Options) Options {
	cc := config.Default().Cache.Collapse
	if opts.Wait == 0 {
		opts.Wait = cc.Wait.D()
	}
	if opts.HitForPass == 0 {
		opts.HitForPass = cc.HitForPass.D()
	}
	return opts
}

func client(t *testing.T) redis.UniversalClient {
	c := redis.NewClient(&redis.Options{Addr: server.Addr()})
	t.Cleanup(func() { c.Close() })
	return c
}

// burst runs n concurrent Do calls for key on the groups in turn and
// returns how many fills ran and how many callers shared another's.
func burst(groups []*Group, key string, n int, fill func() Outcome) (fills, shared int64) {
	var nf, ns atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, sh := groups[i%len(groups)].Do(context.Background(), key, func(Settle) (Outcome, any) {
				nf.Add(1)
				return fill(), nil
			}, nil)
			if sh {
				ns.Add(1)
			}
		}()
	}
	wg.Wait()
	return nf.Load(), ns.Load()
}

func slowFill(out Outcome) func() Outcome {
	return func() Outcome { time.Sleep(100 * time.Millisecond); return out }
}

func TestOneFillPerKeyInProcess(t *testing.T) {
	g := New(nil, "", withDefaults(Options{}), quiet())
	fills, shared := burst([]*Group{g}, "k", 50, slowFill(Stored))
	if fills != 1 || shared != 49 {
		t.Errorf("fills %d shared %d, want 1 and 49", fills, shared)
	}
}

func TestOneFillPerKeyAcrossInstances(t *testing.T) {
	prefix := uniquePrefix(t)
	a := New(client(t), prefix, withDefaults(Options{}), quiet())
	b := New(client(t), prefix, withDefaults(Options{}), quiet())
	defer a.Close()
	defer b.Close()
	time.Sleep(50 * time.Millisecond) // subscriptions up
	fills, shared := burst([]*Group{a, b}, "k", 100, slowFill(Stored))
	if fills != 1 || shared != 99 {
		t.Errorf("fills %d shared %d over two instances, want 1 and 99", fills, shared)
	}
}

func TestUncacheableTurnsIntoHitForPassEverywhere(t *testing.T) {
	prefix := uniquePrefix(t)
	a := New(client(t), prefix, withDefaults(Options{HitForPass: time.Minute}), quiet())
	b := New(client(t), prefix, withDefaults(Options{HitForPass: time.Minute}), quiet())
	defer a.Close()
	defer b.Close()
	// A popular key: another request of a waits for the fill.
	waiter := make(chan struct{})
	go func() {
		defer close(waiter)
		waitForWaiter(t, a, "k")
	}()
	if out, _, shared := a.Do(context.Background(), "k", func(Settle) (Outcome, any) { <-waiter; return Uncacheable, nil }, nil); out != Uncacheable || shared {
		t.Fatalf("leader: %v shared %v", out, shared)
	}
	for _, g := range []*Group{a, b} {
		ran := false
		out, _, shared := g.Do(context.Background(), "k", func(Settle) (Outcome, any) { ran = true; return Stored, nil }, nil)
		if ran || out != Uncacheable || !shared {
			t.Errorf("after an uncacheable fill: ran %v, outcome %v shared %v; want hit-for-pass without a fill", ran, out, shared)
		}
	}
}

func TestFlightEndsWhenTheFillPanics(t *testing.T) {
	g := New(nil, "", withDefaults(Options{Wait: time.Minute}), quiet())
	started := make(chan struct{})
	go func() {
		defer func() { recover() }()
		g.Do(context.Background(), "k", func(Settle) (Outcome, any) { close(started); time.Sleep(50 * time.Millisecond); panic("abort") }, nil)
	}()
	<-started
	out, _, shared := g.Do(context.Background(), "k", func(Settle) (Outcome, any) { return Stored, nil }, nil)
	if out != Failed || !shared {
		t.Errorf("waiter of a panicked fill: %v shared %v, want Failed (then it fetches itself)", out, shared)
	}
	if g.Busy("k") {
		t.Error("the flight of a panicked fill is still registered")
	}
}

func TestLeaseOfADeadHolderIsTakenOver(t *testing.T) {
	c := client(t)
	prefix := uniquePrefix(t)
	g := New(c, prefix, withDefaults(Options{Wait: time.Minute}), quiet())
	defer g.Close()
	// A holder that died: its lease stays until it expires.
	c.Set(context.Background(), prefix+":lease:{k}", "dead-token", 300*time.Millisecond)
	out, _, shared := g.Do(context.Background(), "k", func(Settle) (Outcome, any) { return Stored, nil }, nil)
	if !shared || out != Stored {
		t.Fatalf("while the dead lease lasts: %v shared %v, want to wait for it to end", out, shared)
	}
	ran := false
	g.Do(context.Background(), "k", func(Settle) (Outcome, any) { ran = true; return Stored, nil }, nil)
	if !ran {
		t.Error("after the dead holder's lease expired, the next request did not take it over")
	}
}

func TestWaitersGetTheFillsValueAndLoadRunsOncePerInstance(t *testing.T) {
	prefix := uniquePrefix(t)
	a := New(client(t), prefix, withDefaults(Options{}), quiet())
	b := New(client(t), prefix, withDefaults(Options{}), quiet())
	defer a.Close()
	defer b.Close()
	time.Sleep(50 * time.Millisecond)
	var loads atomic.Int64
	var wg sync.WaitGroup
	values := make([]any, 40)
	for i := range values {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := []*Group{a, b}[i%2]
			_, values[i], _ = g.Do(context.Background(), "k", func(Settle) (Outcome, any) {
				time.Sleep(100 * time.Millisecond)
				return Stored, "filled"
			}, func() any { loads.Add(1); return "loaded" })
		}()
	}
	wg.Wait()
	for i, v := range values {
		if v != "filled" && v != "loaded" {
			t.Errorf("waiter %d got %v, want the fill's value or the loaded one", i, v)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Errorf("load ran %d times, want once (by the instance that did not fill)", n)
	}
}

func TestAFillThatSettlesEarlyReleasesItsWaitersBeforeItReturns(t *testing.T) {
	g := New(nil, "", withDefaults(Options{Wait: time.Minute}), quiet())
	started, settle, finish := make(chan struct{}), make(chan struct{}), make(chan struct{})
	returned := make(chan Outcome, 1)
	go func() {
		out, _, _ := g.Do(context.Background(), "k", func(s Settle) (Outcome, any) {
			close(started)
			<-settle
			s(Stored, "entry")
			<-finish // the leader's own client is still reading
			return Failed, nil
		}, nil)
		returned <- out
	}()
	<-started
	waited := make(chan struct{})
	var out Outcome
	var value any
	ran := false
	go func() {
		defer close(waited)
		out, value, _ = g.Do(context.Background(), "k", func(Settle) (Outcome, any) { ran = true; return Failed, nil }, nil)
	}()
	for g.waiting("k") == 0 {
		time.Sleep(time.Millisecond)
	}
	close(settle)
	select {
	case <-waited: // before finish: the leader is still "streaming"
	case <-time.After(30 * time.Second):
		close(finish)
		t.Fatal("the waiter was not released by the settled fill; it waited for the leader's return")
	}
	if ran || out != Stored || value != "entry" {
		t.Errorf("waiter while the leader still streams: ran a fill %v, got %v %v; want the settled Stored entry", ran, out, value)
	}
	close(finish)
	if out := <-returned; out != Stored {
		t.Errorf("the leader's Do returned %v, want the settled Stored (its own later return does not count)", out)
	}
}

func TestAFillThatSettlesEarlyReleasesItsLeaseBeforeItReturns(t *testing.T) {
	c := client(t)
	prefix := uniquePrefix(t)
	g := New(c, prefix, withDefaults(Options{Wait: time.Minute}), quiet())
	defer g.Close()
	leaseKey := prefix + ":lease:{k}"
	g.Do(context.Background(), "k", func(settle Settle) (Outcome, any) {
		if n, err := c.Exists(context.Background(), leaseKey).Result(); err != nil || n != 1 {
			t.Fatalf("the lease is not held during the fill: %d %v", n, err)
		}
		settle(Stored, nil)
		if n, err := c.Exists(context.Background(), leaseKey).Result(); err != nil || n != 0 {
			t.Errorf("after settling, the lease is still held (%d %v): other instances would wait for the leader's client", n, err)
		}
		return Stored, nil
	}, nil)
}

// waiting is how many requests joined the flight of key.
func (g *Group) waiting(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.flights[key]; ok {
		return int(f.waiters.Load())
	}
	return 0
}
