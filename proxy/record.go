package proxy

import (
	"net/http"
	"unsafe"

	"github.com/cachegate/cachegate/accesslog"
	"github.com/cachegate/cachegate/metrics"
)

// record counts the request under its route and cache status, and hands
// its record to the access log and the live stream when x is logged.
func (p *Proxy) record(r *http.Request, x *exchange, w *countingWriter) {
	status := metricStatus(x)
	p.metrics.Request(x.route.Name, status)
	p.metrics.RequestDuration(x.route.Name, status, p.now().Sub(x.start))
	if w != nil {
		p.publish(p.accessRecord(r, x, w, status), x.st)
	}
}

// recordRefusal publishes the record of a request that client_limits
// refused with status before it was classified (admit): no route, no key
// and no cache state but error, so that the log shows who was refused.
func (p *Proxy) recordRefusal(r *http.Request, status int) {
	st := p.state.Load()
	if !p.recording(st) {
		return
	}
	var id [accesslog.IDLen]byte
	p.ids.Fill(&id)
	p.publish(&accesslog.Record{
		Time: p.now().UTC(), RequestID: string(id[:]),
		Client: st.cfg.ClientAddr(r.Header["X-Forwarded-For"], peer(r)),
		Method: r.Method, URI: r.RequestURI, Proto: r.Proto, Host: r.Host,
		Status: status, Referer: r.Header.Get("Referer"), UserAgent: r.Header.Get("User-Agent"),
		Cache: metrics.CacheError,
	}, st)
}

// recording reports whether a request that starts under st is recorded:
// the access log is on, or someone watches the live stream. When neither,
// a request pays an atomic load and builds no record.
func (p *Proxy) recording(st *state) bool {
	return st.cfg.AccessLog.Enabled && p.accessLog != nil || p.live.Watched()
}

// accessRecord is what the access log tells of r, which ended in cache
// state status.
func (p *Proxy) accessRecord(r *http.Request, x *exchange, w *countingWriter, status string) *accesslog.Record {
	code := w.status
	if code == 0 {
		code = http.StatusOK // nothing written: the server sends 200
	}
	return &accesslog.Record{
		Time: x.start.UTC(), RequestID: x.requestID,
		Client: x.st.cfg.ClientAddr(r.Header["X-Forwarded-For"], peer(r)),
		Method: r.Method, URI: r.RequestURI, Proto: r.Proto, Host: x.target.Host,
		Status: code, Bytes: w.bytes, Referer: x.referer, UserAgent: x.userAgent,
		Route: x.route.Name, Cache: status, CacheStatus: x.status.String(),
		Backend: x.route.Backend, Upstream: x.upstream,
		OriginMicros: x.originTime.Microseconds(), TotalMicros: p.now().Sub(x.start).Microseconds(),
	}
}

// publish writes rec to the access log, if st (the config in force when
// the request started) enables it, and to the live stream.
func (p *Proxy) publish(rec *accesslog.Record, st *state) {
	rec.Bound() // it waits in queues: its size must not be the client's to choose
	if st.cfg.AccessLog.Enabled && p.accessLog != nil {
		p.accessLog.Write(rec)
	}
	p.live.Publish(rec)
}

// setRequestID gives x its request ID: the X-Request-Id a trusted proxy
// sent, when it is one that cannot break a log line or a header, else a
// new one. A client's own X-Request-Id is not believed: it could pass
// itself off as another request in the logs. A new ID is written into x
// itself, so that no request allocates for it: x is never reused, so the
// bytes the string views never change.
func (p *Proxy) setRequestID(st *state, r *http.Request, x *exchange) {
	if id := r.Header.Get("X-Request-Id"); id != "" && accesslog.ValidRequestID(id) && st.cfg.Trusts(peer(r)) {
		x.requestID = id
		return
	}
	p.ids.Fill(&x.idBytes)
	x.requestID = unsafe.String(&x.idBytes[0], len(x.idBytes))
}

// sendRequestID sends x's request ID to the origin, after the route's
// request shaping (which could drop it), and, when the request is recorded
// (access log or live stream), echoes it in the response
// (clientWriter.WriteHeader), where it names the record. An ID no record
// holds is not echoed: one more response field would cost every hit of a
// small response a growth of its header map (3 allocations, the budget of
// TestAHitFromTheMemoryStoreAllocatesNoMoreThanItsBudget). The field's
// value slice is x's own.
func (p *Proxy) sendRequestID(r *http.Request, x *exchange) {
	x.idField[0] = x.requestID
	r.Header["X-Request-Id"] = x.idField[:]
	if x.logged {
		x.client.requestID = x.idField[:]
	}
}

// metricStatus is the request's cache status among the few the metrics
// tell apart (metrics.CacheHit and the others).
func metricStatus(x *exchange) string {
	s := x.status
	switch {
	case s.Hit && s.Detail != "" && s.Detail != detailRedisDown:
		return metrics.CacheStale // stale-while-revalidate, soft purge, stale-if-error
	case s.Hit:
		return metrics.CacheHit
	case s.Collapsed:
		return metrics.CacheCollapsed
	case s.Fwd == "bypass" || s.Fwd == "method" || s.Fwd == "request":
		return metrics.CacheBypass
	case s.Detail == "origin-error" || s.Detail == detailBackendDown:
		// An answer of cachegate's own (a stale entry served while the
		// backend is down is a hit, above).
		return metrics.CacheError
	case s.Fwd == "stale" && s.FwdStatus == http.StatusNotModified:
		return metrics.CacheRevalidated
	}
	return metrics.CacheMiss
}

// countingWriter notes the status and the bytes written, for the access
// log.
type countingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (c *countingWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	c.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
