package accesslog

import (
	"net/url"
	"testing"
	"time"
)

func TestParseFilterReadsEveryParameterAndRoundTrips(t *testing.T) {
	q := url.Values{"route": {"api"}, "host": {"Site.Test"}, "prefix": {"/a/"}, "status": {"5xx"}, "cache": {"miss"}, "min_duration": {"250ms"}}
	f, err := ParseFilter(q)
	if err != nil {
		t.Fatal(err)
	}
	want := Filter{Route: "api", Host: "site.test", Prefix: "/a/", Status: 5, StatusClass: true, Cache: "miss", MinDuration: 250 * time.Millisecond}
	if f != want {
		t.Errorf("ParseFilter = %+v, want %+v", f, want)
	}
	back, err := ParseFilter(f.Query())
	if err != nil || back != f {
		t.Errorf("ParseFilter(f.Query()) = %+v, %v, want %+v", back, err, f)
	}
}

func TestParseFilterRefusesBadStatusAndDuration(t *testing.T) {
	for _, q := range []url.Values{{"status": {"6xx"}}, {"status": {"42"}}, {"status": {"ok"}}, {"min_duration": {"soon"}}, {"min_duration": {"-1s"}}} {
		if _, err := ParseFilter(q); err == nil {
			t.Errorf("ParseFilter(%v) accepted", q)
		}
	}
}

func TestFilterMatchesEachCondition(t *testing.T) {
	r := sampleRecord() // route pages, host site.test, /a?b=1, 200, hit, 2.5ms
	for _, tc := range []struct {
		f    Filter
		want bool
	}{
		{Filter{}, true},
		{Filter{Route: "pages"}, true},
		{Filter{Route: "api"}, false},
		{Filter{Host: "SITE.test"}, true},
		{Filter{Host: "other.test"}, false},
		{Filter{Prefix: "/a"}, true},
		{Filter{Prefix: "/b"}, false},
		{Filter{Status: 200}, true},
		{Filter{Status: 404}, false},
		{Filter{Status: 2, StatusClass: true}, true},
		{Filter{Status: 5, StatusClass: true}, false},
		{Filter{Cache: "hit"}, true},
		{Filter{Cache: "miss"}, false},
		{Filter{MinDuration: 2 * time.Millisecond}, true},
		{Filter{MinDuration: 3 * time.Millisecond}, false},
	} {
		if got := tc.f.Match(r); got != tc.want {
			t.Errorf("%+v.Match = %v, want %v", tc.f, got, tc.want)
		}
	}
}

func TestAViewerThatDoesNotReadMissesRecordsAndTheyAreCounted(t *testing.T) {
	h := NewHub(2, 4)
	slow, err := h.Watch(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	for range 10 {
		h.Publish(sampleRecord()) // returns although nobody reads
	}
	if got := len(slow.Records()); got != 4 {
		t.Errorf("%d records buffered, want the buffer's 4", got)
	}
	if got := slow.TakeDropped(); got != 6 {
		t.Errorf("dropped %d, want 6", got)
	}
	if got := slow.TakeDropped(); got != 0 {
		t.Errorf("TakeDropped again = %d, want 0: it counts since the last call", got)
	}
	if got := h.Dropped(); got != 6 {
		t.Errorf("hub total dropped %d, want 6", got)
	}
}

func TestAViewerGetsOnlyWhatItsFilterSelects(t *testing.T) {
	h := NewHub(2, 4)
	v, _ := h.Watch(Filter{Cache: "miss"})
	defer v.Close()
	h.Publish(sampleRecord()) // a hit
	miss := sampleRecord()
	miss.Cache = "miss"
	h.Publish(miss)
	if got := len(v.Records()); got != 1 || <-v.Records() != miss {
		t.Errorf("viewer of misses got %d records, want the miss only", got)
	}
}

func TestViewersAreBoundedAndAClosedOneLeavesNoSubscription(t *testing.T) {
	h := NewHub(2, 4)
	if h.Watched() {
		t.Fatal("a new hub is watched")
	}
	a, _ := h.Watch(Filter{})
	b, _ := h.Watch(Filter{})
	if _, err := h.Watch(Filter{}); err != ErrTooManyViewers {
		t.Errorf("third viewer of two: err %v, want ErrTooManyViewers", err)
	}
	a.Close()
	a.Close() // twice is harmless
	if h.Viewers() != 1 {
		t.Errorf("%d viewers after one closed, want 1", h.Viewers())
	}
	b.Close()
	if h.Watched() || h.Viewers() != 0 {
		t.Errorf("hub still watched after every viewer closed")
	}
	h.Publish(sampleRecord())
	if len(a.Records()) != 0 {
		t.Errorf("a closed viewer still receives records")
	}
}

func TestANilHubIsNeverWatched(t *testing.T) {
	var h *Hub
	h.Publish(sampleRecord())
	if h.Watched() || h.Viewers() != 0 || h.Dropped() != 0 {
		t.Error("a nil hub reports viewers")
	}
}

// BenchmarkPublishUnwatched is what a request pays for the live stream
// when nobody watches.
func BenchmarkPublishUnwatched(b *testing.B) {
	h := NewHub(MaxViewers, ViewerBuffer)
	for b.Loop() {
		if h.Watched() {
			b.Fatal("watched")
		}
	}
}

func TestAClosedHubEndsItsStreamsAndRefusesViewers(t *testing.T) {
	h := NewHub(2, 4)
	v, _ := h.Watch(Filter{})
	defer v.Close()
	h.Close()
	h.Close() // twice is harmless
	select {
	case <-h.Done():
	default:
		t.Error("Done is not closed after Close")
	}
	if _, err := h.Watch(Filter{}); err != ErrClosed {
		t.Errorf("Watch after Close: %v, want ErrClosed", err)
	}
}
