package policy

import (
	"net/http"
	"testing"
	"time"
)

func TestParseHTTPDateAcceptsTheThreeFormatsOfRFC9110(t *testing.T) {
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	rows := []struct{ name, in string }{
		{"§5.6.7 IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT"},
		{"§5.6.7 obsolete RFC 850", "Sunday, 06-Nov-94 08:49:37 GMT"},
		{"§5.6.7 asctime, one-digit day", "Sun Nov  6 08:49:37 1994"},
		{"§5.6.7 robust: wrong-case weekday", "SUN, 06 Nov 1994 08:49:37 GMT"},
		{"§5.6.7 robust: wrong-case month", "Sun, 06 NOV 1994 08:49:37 GMT"},
		{"§5.6.7 robust: wrong-case zone", "Sun, 06 Nov 1994 08:49:37 gMT"},
	}
	for _, r := range rows {
		got, ok := ParseHTTPDate(r.in)
		if !ok || !got.Equal(want) {
			t.Errorf("%s: ParseHTTPDate(%q) = %v, %v; want %v", r.name, r.in, got, ok, want)
		}
	}
	if got, ok := ParseHTTPDate("Thu Aug 18 02:01:18 2050"); !ok || got.Day() != 18 {
		t.Errorf("asctime with a two-digit day: %v %v", got, ok)
	}
	if got, ok := ParseHTTPDate("Tue, 19 Jan 2038 03:14:08 GMT"); !ok || got.Unix() != 1<<31 {
		t.Errorf("a date past 32 bits must parse: %v %v", got, ok)
	}
}

func TestParseHTTPDateRefusesWhatRFC9110DoesNotAllow(t *testing.T) {
	rows := []struct{ name, in string }{
		{"zone UTC", "Thu, 18 Aug 2050 02:01:18 UTC"},
		{"zone AEST", "Thu, 18 Aug 2050 02:01:18 AEST"},
		{"two-digit year in IMF-fixdate", "Thu, 18 Aug 50 02:01:18 GMT"},
		{"missing comma", "Thu 18 Aug 2050 02:01:18 GMT"},
		{"doubled spaces", "Thu, 18  Aug  2050 02:01:18 GMT"},
		{"date with dashes and a four-digit year", "Thu, 18-Aug-2050 02:01:18 GMT"},
		{"time with periods", "Thu, 18 Aug 2050 02.01.18 GMT"},
		{"one-digit hour", "Thu, 18 Aug 2050 2:01:18 GMT"},
		{"one-digit day", "Thu, 8 Aug 2050 02:01:18 GMT"},
		{"no such day", "Thu, 31 Nov 2050 02:01:18 GMT"},
		{"hour 24", "Thu, 18 Aug 2050 24:01:18 GMT"},
		{"numeric zone", "Thu, 18 Aug 2050 02:01:18 +0000"},
		{"trailing text", "Thu, 18 Aug 2050 02:01:18 GMT x"},
		{"not a day name", "Xyz, 18 Aug 2050 02:01:18 GMT"},
		{"RFC 850 with a short day name", "Thu, 18-Aug-50 02:01:18 GMT x"},
		{"asctime with a zero-padded day", "Thu Aug 08 02:01:18 2050"},
		{"the value 0", "0"},
		{"empty", ""},
	}
	for _, r := range rows {
		if got, ok := ParseHTTPDate(r.in); ok {
			t.Errorf("RFC 9110 §5.6.7 %s: ParseHTTPDate(%q) = %v, want invalid", r.name, r.in, got)
		}
	}
}

func TestParseHTTPDateReadsTwoDigitYearsAsRFC9110Says(t *testing.T) {
	// §5.6.7: a two-digit year more than 50 years ahead is in the past.
	now := time.Now().UTC().Year()
	soon := (now + 10) % 100
	far := (now + 60) % 100
	in := func(yy int) string {
		return "Thursday, 18-Aug-" + string(rune('0'+yy/10)) + string(rune('0'+yy%10)) + " 02:01:18 GMT"
	}
	if got, ok := ParseHTTPDate(in(soon)); !ok || got.Year() != now+10 {
		t.Errorf("%q = %v, %v; want year %d", in(soon), got, ok, now+10)
	}
	if got, ok := ParseHTTPDate(in(far)); !ok || got.Year() != now+60-100 {
		t.Errorf("%q = %v, %v; want year %d", in(far), got, ok, now+60-100)
	}
}

func TestParseHTTPDateAgreesWithNetHTTPOnWhatItFormats(t *testing.T) {
	for _, ts := range []int64{0, 784111777, 1 << 31, 4102444800} {
		v := time.Unix(ts, 0).UTC().Format(http.TimeFormat)
		got, ok := ParseHTTPDate(v)
		if !ok || got.Unix() != ts {
			t.Errorf("ParseHTTPDate(%q) = %v, %v; want %d", v, got, ok, ts)
		}
	}
}

func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseHTTPDate(s)
		if !ok {
			return
		}
		// Whatever parses is a real instant that net/http formats back
		// into a value that parses to the same instant.
		back, ok := ParseHTTPDate(got.Format(http.TimeFormat))
		if got.Year() >= 0 && got.Year() <= 9999 && (!ok || !back.Equal(got)) {
			t.Fatalf("%q parsed to %v, which does not round-trip (%v %v)", s, got, back, ok)
		}
	})
}
