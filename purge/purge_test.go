package purge

import (
	"context"
	"testing"

	"github.com/cachegate/cachegate/store"
)

func TestSoftPurgeMakesEntriesStale(t *testing.T) {
	l := NewLocal()
	ctx := context.Background()
	e := &store.Entry{Key: "http://a.example/p", URL: "a.example/p", Route: "default", Host: "a.example", Tags: []string{"t"}, Status: 200, Seq: l.FillSeq(ctx)}
	l.Purge(ctx, []Scope{{Kind: Tag, Value: "t"}}, true)
	if v := l.Check(ctx, e); v != SoftPurged {
		t.Fatalf("validity after soft purge = %v, want soft-purged", v)
	}
	l.Purge(ctx, []Scope{{Kind: Tag, Value: "t"}}, false)
	if v := l.Check(ctx, e); v != Purged {
		t.Fatalf("validity after hard purge = %v, want purged", v)
	}
}
