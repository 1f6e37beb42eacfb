package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cachegate/cachegate/accesslog"
	"github.com/cachegate/cachegate/metrics"
)

// Pacing of GET /live.
const (
	// liveTick is how often a viewer is told of the records it missed
	// when nothing else is sent.
	liveTick = time.Second
	// liveWriteTimeout cuts a viewer that accepts nothing for this long,
	// so that one that stopped reading does not hold its place (one of
	// accesslog.MaxViewers) for ever.
	liveWriteTimeout = 30 * time.Second
	// liveBatch bounds what one write sends.
	liveBatch = 64 << 10
)

// cacheStates are the states a request ends in (Record.Cache): a filter
// on another one would select nothing, and its viewer would watch an
// empty stream for ever.
var cacheStates = []string{metrics.CacheHit, metrics.CacheMiss, metrics.CacheStale, metrics.CacheRevalidated,
	metrics.CacheBypass, metrics.CacheCollapsed, metrics.CacheError}

// serveLive handles GET /live: the request records the query's filter
// selects (accesslog.ParseFilter), one JSON object per line, written as
// they come. Records the viewer could not take in time are dropped, and
// the count is sent in their place as {"dropped":N}.
func serveLive(hub *accesslog.Hub) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, err := accesslog.ParseFilter(r.URL.Query())
		if err == nil && f.Cache != "" && !slices.Contains(cacheStates, f.Cache) {
			err = fmt.Errorf("%s: want one of %s, got %q", accesslog.ParamCache, strings.Join(cacheStates, ", "), f.Cache)
		}
		if err != nil {
			http.Error(w, "bad filter: "+err.Error(), http.StatusBadRequest)
			return
		}
		v, err := hub.Watch(f)
		switch {
		case errors.Is(err, accesslog.ErrTooManyViewers):
			http.Error(w, fmt.Sprintf("%d viewers already watch, the most there may be at once", accesslog.MaxViewers), http.StatusServiceUnavailable)
			return
		case err != nil:
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		defer v.Close()
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		streamLive(w, r, v, hub.Done())
	}
}

// streamLive writes v's records to w until the viewer goes away or stops
// accepting them, or done is closed.
func streamLive(w http.ResponseWriter, r *http.Request, v *accesslog.Viewer, done <-chan struct{}) {
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(liveTick)
	defer tick.Stop()
	var buf []byte
	for {
		buf = buf[:0]
		select {
		case <-r.Context().Done():
			return
		case <-done:
			return
		case rec := <-v.Records():
			buf = appendBatch(accesslog.AppendJSON(buf, rec), v)
		case <-tick.C:
		}
		if n := v.TakeDropped(); n > 0 {
			buf = fmt.Appendf(buf, "{\"dropped\":%d}\n", n)
		}
		if len(buf) == 0 {
			continue
		}
		rc.SetWriteDeadline(time.Now().Add(liveWriteTimeout))
		if _, err := w.Write(buf); err != nil || rc.Flush() != nil {
			return
		}
	}
}

// appendBatch appends the records already waiting for v, up to liveBatch
// bytes, so that a busy stream costs a write per batch, not per record.
func appendBatch(buf []byte, v *accesslog.Viewer) []byte {
	for len(buf) < liveBatch {
		select {
		case rec := <-v.Records():
			buf = accesslog.AppendJSON(buf, rec)
		default:
			return buf
		}
	}
	return buf
}
