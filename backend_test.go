package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/metrics"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/store"
	"github.com/cachegate/cachegate/store/redistest"
)

func TestOpenBackendGivesTheTieredStoreThePurgeMarksItOpenedFirst(t *testing.T) {
	srv, err := redistest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	cfg, err := config.Parse("test.yaml", []byte(fmt.Sprintf(
		"origin: http://127.0.0.1:9\nstore:\n  backend: tiered\n  redis: {addrs: [%q], key_prefix: backendtest}\n", srv.Addr())))
	if err != nil {
		t.Fatal(err)
	}
	be, err := openBackend(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.New("test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(be.Close)
	if _, ok := be.store.(*store.Tiered); !ok || be.marks == nil || be.purger != be.marks {
		t.Fatalf("backend tiered opened store %T, marks %v; want a tiered store over the Redis purge marks", be.store, be.marks)
	}
	// Trusted: the L1 serves once the marks are held.
	for deadline := time.Now().Add(10 * time.Second); !be.marks.Trusted(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the purge marks were never trusted")
		}
	}
	ctx := context.Background()
	e := &store.Entry{Status: 200, Key: "http://a.example/p", URL: "a.example/p", Host: "a.example", Route: "default",
		Tags: []string{"t"}, Seq: be.purger.FillSeq(ctx), ResponseTime: time.Now(), Freshness: time.Hour}
	if err := be.store.Set(ctx, "k", e, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := be.memory.Get(ctx, "k"); err != nil {
		t.Fatalf("the entry did not enter L1: %v", err)
	}
	// Current: a copy the marks purged leaves L1 at its next read.
	// (Mark, not Purge: a purge of a state just created waits its whole
	// bound for instances cut off by a loss.)
	if err := be.purger.Mark(ctx, []purge.Scope{{Kind: purge.Tag, Value: "t"}}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	be.store.Get(ctx, "k")
	if _, err := be.memory.Get(ctx, "k"); err == nil {
		t.Error("L1 still holds a copy a purge touched: the tiered store was not given the marks' Current")
	}
}
