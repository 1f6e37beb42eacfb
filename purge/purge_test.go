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

func TestActiveMarksCountsEachPurgedScopeOnceAndAllAsOne(t *testing.T) {
	l := NewLocal()
	ctx := context.Background()
	if n := l.ActiveMarks(); n != 0 {
		t.Fatalf("ActiveMarks of a new purger = %d, want 0", n)
	}
	l.Purge(ctx, []Scope{{Kind: Tag, Value: "t"}, {Kind: Host, Value: "a.example"}}, false)
	l.Purge(ctx, []Scope{{Kind: Tag, Value: "t"}}, true) // the same scope again
	l.Purge(ctx, []Scope{{Kind: All}}, false)
	if n := l.ActiveMarks(); n != 3 {
		t.Errorf("ActiveMarks after purging tag t twice, a host and everything = %d, want 3", n)
	}
}
