package policy

import (
	"strings"
	"time"
)

// ParseHTTPDate parses an HTTP-date (RFC 9110 §5.6.7) in one of the three
// formats a recipient must accept: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
// GMT"), the obsolete RFC 850 format ("Sunday, 06-Nov-94 08:49:37 GMT") and
// asctime ("Sun Nov  6 08:49:37 1994"). It is strict where Go's time.Parse
// is lenient: every field has its exact width (a one-digit hour is
// invalid), separators are single, and the zone is GMT and nothing else.
// Names of days, months and the zone are compared without regard to case,
// since §5.6.7 asks recipients to be robust in parsing timestamps. The day
// name is not checked against the date.
//
// It is written by hand because net/http.ParseTime accepts shapes RFC 9110
// does not (RFC 9111 §5.3: an invalid Expires means "already expired", so
// accepting a malformed one would make a response fresh that is not).
func ParseHTTPDate(s string) (time.Time, bool) {
	if i := strings.IndexByte(s, ','); i >= 0 {
		if i == 3 {
			return parseIMFFixdate(s)
		}
		return parseRFC850(s)
	}
	return parseASCTime(s)
}

// parseIMFFixdate parses "Sun, 06 Nov 1994 08:49:37 GMT".
func parseIMFFixdate(s string) (time.Time, bool) {
	if len(s) != 29 || !dayName(s[:3]) || s[3:5] != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[25] != ' ' {
		return time.Time{}, false
	}
	day, ok1 := digits(s[5:7])
	month, ok2 := monthNumber(s[8:11])
	year, ok3 := digits(s[12:16])
	if !ok1 || !ok2 || !ok3 || !strings.EqualFold(s[26:], "GMT") {
		return time.Time{}, false
	}
	return clock(year, month, day, s[17:25])
}

// parseRFC850 parses "Sunday, 06-Nov-94 08:49:37 GMT"; a two-digit year
// that would be more than 50 years in the future is the most recent past
// year with those digits (RFC 9110 §5.6.7).
func parseRFC850(s string) (time.Time, bool) {
	name, rest, _ := strings.Cut(s, ", ")
	if !longDayName(name) || len(rest) != 22 || rest[2] != '-' || rest[6] != '-' || rest[9] != ' ' || rest[18] != ' ' {
		return time.Time{}, false
	}
	day, ok1 := digits(rest[:2])
	month, ok2 := monthNumber(rest[3:6])
	yy, ok3 := digits(rest[7:9])
	if !ok1 || !ok2 || !ok3 || !strings.EqualFold(rest[19:], "GMT") {
		return time.Time{}, false
	}
	now := time.Now().UTC().Year()
	year := now - now%100 + yy
	if year > now+50 {
		year -= 100
	}
	return clock(year, month, day, rest[10:18])
}

// parseASCTime parses "Sun Nov  6 08:49:37 1994" (the day is two digits
// or a space and a digit).
func parseASCTime(s string) (time.Time, bool) {
	if len(s) != 24 || !dayName(s[:3]) || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' {
		return time.Time{}, false
	}
	month, ok1 := monthNumber(s[4:7])
	dd := s[8:10]
	if dd[0] == ' ' {
		dd = "0" + dd[1:]
	} else if dd[0] == '0' {
		return time.Time{}, false
	}
	day, ok2 := digits(dd)
	year, ok3 := digits(s[20:24])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	return clock(year, month, day, s[11:19])
}

// clock completes a date with a time-of-day "08:49:37" and checks that
// every field is in range (a 31 November is invalid, not 1 December).
func clock(year int, month time.Month, day int, hms string) (time.Time, bool) {
	if hms[2] != ':' || hms[5] != ':' {
		return time.Time{}, false
	}
	h, ok1 := digits(hms[0:2])
	m, ok2 := digits(hms[3:5])
	sec, ok3 := digits(hms[6:8])
	// RFC 9110 §5.6.7 allows a leap second (60).
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || sec > 60 || day < 1 {
		return time.Time{}, false
	}
	t := time.Date(year, month, day, h, m, sec, 0, time.UTC)
	if t.Day() != day && !(sec == 60 && t.Add(-time.Second).Day() == day) {
		return time.Time{}, false
	}
	return t, true
}

// digits reads a fixed-width unsigned decimal number.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(s) > 0
}

var (
	dayNames     = [...]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	longDayNames = [...]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	monthNames   = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

func dayName(s string) bool {
	for _, d := range dayNames {
		if strings.EqualFold(s, d) {
			return true
		}
	}
	return false
}

func longDayName(s string) bool {
	for _, d := range longDayNames {
		if strings.EqualFold(s, d) {
			return true
		}
	}
	return false
}

func monthNumber(s string) (time.Month, bool) {
	for i, m := range monthNames {
		if strings.EqualFold(s, m) {
			return time.Month(i + 1), true
		}
	}
	return 0, false
}
