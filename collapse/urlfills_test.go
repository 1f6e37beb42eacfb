package collapse

import (
	"context"
	"testing"

	"github.com/cachegate/cachegate/internal/testutil"
)

func TestAFillOfAURLIsSeenByEveryInstanceUntilItEndsAndLeavesNothingInRedis(t *testing.T) {
	ctx := context.Background()
	prefix := testutil.UniquePrefix(t)
	a, b := groupOn(t, prefix, withDefaults(Options{})), groupOn(t, prefix, withDefaults(Options{}))
	endFirst := a.BeginURL(ctx, "u")
	endSecond := a.BeginURL(ctx, "u")
	for name, g := range map[string]*Group{"the filling instance": a, "another instance": b} {
		if !g.FillingURL(ctx, "u") {
			t.Errorf("%s does not see the fill of the URL in flight", name)
		}
		if g.FillingURL(ctx, "other") {
			t.Errorf("%s sees a fill of a URL nobody fills", name)
		}
	}
	endFirst()
	if !b.FillingURL(ctx, "u") {
		t.Error("the end of one fill hid the other fill of the URL still in flight")
	}
	endSecond()
	if a.FillingURL(ctx, "u") || b.FillingURL(ctx, "u") {
		t.Error("a fill of the URL is still seen after every fill ended")
	}
	keys, err := testutil.RedisClient(t).Keys(ctx, prefix+":filling:*").Result()
	if err != nil || len(keys) != 0 {
		t.Errorf("Redis keeps %v (err %v) after the fills ended, want nothing", keys, err)
	}
}

func TestAFillOfAURLIsSeenInProcessWithoutRedis(t *testing.T) {
	g := New(nil, "", withDefaults(Options{}), testutil.DiscardLogger())
	end := g.BeginURL(context.Background(), "u")
	if !g.FillingURL(context.Background(), "u") {
		t.Error("the fill of the URL in flight is not seen")
	}
	end()
	if g.FillingURL(context.Background(), "u") || len(g.urlFills) != 0 {
		t.Errorf("the fill is still seen or remembered after it ended: %v", g.urlFills)
	}
}
