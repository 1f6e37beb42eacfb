package accesslog

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Filter selects the records a viewer of the live stream receives; a
// zero field selects every record.
type Filter struct {
	Route string
	// Host is compared without case.
	Host string
	// Prefix is a prefix of the URI as received (path and query).
	Prefix string
	// Status is one status (200) or a class (5, for 5xx); 0 for all.
	Status      int
	StatusClass bool
	// Cache is a cache state (hit, miss, stale, ...).
	Cache       string
	MinDuration time.Duration
}

// Filter query parameters of GET /live, which cachegate log passes on.
const (
	ParamRoute       = "route"
	ParamHost        = "host"
	ParamPrefix      = "prefix"
	ParamStatus      = "status"
	ParamCache       = "cache"
	ParamMinDuration = "min_duration"
)

// ParseFilter reads a Filter from the query of GET /live; an error says
// which parameter is wrong and why.
func ParseFilter(q url.Values) (Filter, error) {
	f := Filter{
		Route:  q.Get(ParamRoute),
		Host:   strings.ToLower(q.Get(ParamHost)),
		Prefix: q.Get(ParamPrefix),
		Cache:  q.Get(ParamCache),
	}
	if s := q.Get(ParamStatus); s != "" {
		var err error
		if f.Status, f.StatusClass, err = parseStatus(s); err != nil {
			return Filter{}, fmt.Errorf("%s: %w", ParamStatus, err)
		}
	}
	if s := q.Get(ParamMinDuration); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return Filter{}, fmt.Errorf("%s: want a duration such as 100ms or 2s, got %q", ParamMinDuration, s)
		}
		f.MinDuration = d
	}
	return f, nil
}

// parseStatus reads "404" or "4xx".
func parseStatus(s string) (n int, class bool, err error) {
	if len(s) == 3 && strings.EqualFold(s[1:], "xx") && s[0] >= '1' && s[0] <= '5' {
		return int(s[0] - '0'), true, nil
	}
	n, err = strconv.Atoi(s)
	if err != nil || n < 100 || n > 599 {
		return 0, false, fmt.Errorf("want a status such as 404 or a class such as 5xx, got %q", s)
	}
	return n, false, nil
}

// Query is f as the query of GET /live.
func (f Filter) Query() url.Values {
	q := url.Values{}
	set := func(name, v string) {
		if v != "" {
			q.Set(name, v)
		}
	}
	set(ParamRoute, f.Route)
	set(ParamHost, f.Host)
	set(ParamPrefix, f.Prefix)
	set(ParamCache, f.Cache)
	switch {
	case f.StatusClass:
		q.Set(ParamStatus, strconv.Itoa(f.Status)+"xx")
	case f.Status != 0:
		q.Set(ParamStatus, strconv.Itoa(f.Status))
	}
	if f.MinDuration > 0 {
		q.Set(ParamMinDuration, f.MinDuration.String())
	}
	return q
}

// Match reports whether r passes every condition of f.
func (f *Filter) Match(r *Record) bool {
	switch {
	case f.Route != "" && r.Route != f.Route,
		f.Host != "" && !strings.EqualFold(r.Host, f.Host),
		f.Prefix != "" && !strings.HasPrefix(r.URI, f.Prefix),
		f.Cache != "" && r.Cache != f.Cache,
		f.StatusClass && r.Status/100 != f.Status,
		!f.StatusClass && f.Status != 0 && r.Status != f.Status,
		f.MinDuration > 0 && time.Duration(r.TotalMicros)*time.Microsecond < f.MinDuration:
		return false
	}
	return true
}
