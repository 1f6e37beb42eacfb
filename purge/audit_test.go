package purge

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

// failingPurger is a Local whose purges fail, as a Redis that refuses.
type failingPurger struct{ *Local }

func (failingPurger) Purge(context.Context, []Scope, bool) (Result, error) {
	return Result{}, errors.New("purge: redis: down")
}

func auditedWithLog(p Purger) (*Audited, *testutil.Buffer) {
	buf := &testutil.Buffer{}
	return NewAudited(p, slog.New(slog.NewTextHandler(buf, nil)), nil), buf
}

func TestTheAuditLogsEachPurgeAndMarkOnceWithItsSourceAndKeepsTheLastNewestFirst(t *testing.T) {
	a, log := auditedWithLog(NewLocal())
	ctx := WithSource(context.Background(), Source{Kind: SourceAPI, By: "203.0.113.7"})
	if _, err := a.Purge(ctx, []Scope{{Kind: Tag, Value: "t"}, {Kind: All}}, true); err != nil {
		t.Fatal(err)
	}
	if err := a.Mark(WithSource(ctx, Source{Kind: SourceUnsafe, By: "POST a.example/x"}), []Scope{{Kind: URL, Value: "a.example/x"}}, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	a.Purge(context.Background(), []Scope{{Kind: Host, Value: "a.example"}}, false)
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	want := []string{
		`msg=purge source=api by=203.0.113.7 scopes="[tag:t all]" scope_count=2 soft=true seq=1 result=applied`,
		`msg=purge source=unsafe by="POST a.example/x" scopes=[url:a.example/x] scope_count=1 soft=false seq=0 result=applied`,
		`msg=purge source=unspecified by="" scopes=[host:a.example] scope_count=1 soft=false seq=3 result=applied`,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d log lines, want one per purge and mark:\n%s", len(lines), log.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], "level=INFO "+w) {
			t.Errorf("log line %d = %s, want %s", i, lines[i], w)
		}
	}
	recent := a.Recent()
	if len(recent) != 3 || recent[0].Source.Kind != sourceUnspecified || recent[1].Source.Kind != SourceUnsafe || recent[2].Seq != 1 || !recent[2].Soft {
		t.Errorf("Recent = %+v, want the three, newest first", recent)
	}
	if n, ok := a.ActiveMarks(); !ok || n != 4 {
		t.Errorf("ActiveMarks = %d %v, want 4 (all, tag, url, host)", n, ok)
	}
}

func TestAFailedPurgeIsLoggedAsAWarningAndRecordedAsFailed(t *testing.T) {
	a, log := auditedWithLog(failingPurger{NewLocal()})
	if _, err := a.Purge(WithSource(context.Background(), Source{Kind: SourceWebhook, By: "cms"}), []Scope{{Kind: Tag, Value: "t"}}, false); err == nil {
		t.Fatal("the purge did not fail")
	}
	if !strings.Contains(log.String(), `level=WARN msg=purge source=webhook by=cms`) || !strings.Contains(log.String(), `result="failed: purge: redis: down"`) {
		t.Errorf("log = %s, want one warning naming the source and the error", log.String())
	}
	if r := a.Recent(); len(r) != 1 || r[0].Result != "failed: purge: redis: down" {
		t.Errorf("Recent = %+v, want the failed purge", r)
	}
}

func TestTheAuditStaysBoundedWhateverThePurgesHold(t *testing.T) {
	a, log := auditedWithLog(NewLocal())
	huge := make([]Scope, 2*recordScopes)
	for i := range huge {
		huge[i] = Scope{Kind: URL, Value: strings.Repeat("x", 2*recordValue)}
	}
	ctx := WithSource(context.Background(), Source{Kind: SourceAPI, By: strings.Repeat("b", 10_000)})
	for range recentPurges + 5 {
		a.Purge(ctx, huge, false)
	}
	recent := a.Recent()
	if len(recent) != recentPurges {
		t.Fatalf("Recent holds %d purges, want the last %d", len(recent), recentPurges)
	}
	r := recent[0]
	if len(r.Scopes) != recordScopes || r.ScopeCount != len(huge) || len(r.Scopes[0]) > recordValue+len("…") || len(r.Source.By) > recordValue+len("…") {
		t.Errorf("a record keeps %d scopes of %d bytes and a By of %d bytes (count %d), want at most %d of at most %d",
			len(r.Scopes), len(r.Scopes[0]), len(r.Source.By), r.ScopeCount, recordScopes, recordValue)
	}
	if perLine := len(log.String()) / (recentPurges + 5); perLine > 2*recordScopes*recordValue {
		t.Errorf("a log line is %d bytes, want it bounded (about %d)", perLine, recordScopes*recordValue)
	}
}

// wideningPurger is a Local whose purges all widen the patterns given.
type wideningPurger struct{ *Local }

func (wideningPurger) Purge(_ context.Context, scopes []Scope, _ bool) (Result, error) {
	var res Result
	for _, s := range scopes {
		res.Widened = append(res.Widened, s.Value)
	}
	return res, nil
}

func TestTheResultOfAWidenedPurgeStaysBoundedInTheAuditAndTheLog(t *testing.T) {
	a, log := auditedWithLog(wideningPurger{NewLocal()})
	huge := make([]Scope, 10*recordScopes)
	for i := range huge {
		huge[i] = Scope{Kind: Pattern, Value: "/" + strings.Repeat("x", 2*recordValue) + "/*"}
	}
	a.Purge(context.Background(), huge, false)
	r := a.Recent()[0]
	if !strings.HasPrefix(r.Result, "widened") || len(r.Result) > recordScopes*(recordValue+8) {
		t.Errorf("the result of a widened purge is %d bytes (%.40q...), want it bounded as the scopes are (about %d)", len(r.Result), r.Result, recordScopes*recordValue)
	}
	if len(log.String()) > 4*recordScopes*recordValue {
		t.Errorf("the log line is %d bytes, want it bounded (about %d)", len(log.String()), 2*recordScopes*recordValue)
	}
}
