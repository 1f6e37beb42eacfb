package upstream

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// probeBodyLimit bounds what is read of a probe's response body (read so
// that the connection can be reused).
const probeBodyLimit = 64 << 10

// probeLoop probes u at once, then every interval, until ctx ends.
func (p *Pool) probeLoop(ctx context.Context, u *Upstream) {
	first := true
	ticker := time.NewTicker(p.probe.Interval.D())
	defer ticker.Stop()
	for {
		good, why := p.probeOnce(ctx, u)
		if ctx.Err() != nil {
			return
		}
		p.set.opts.Metrics.UpstreamProbe(p.Name, u.Label, good)
		if changed := u.health.probe(good); changed || (first && !good) {
			level := slog.LevelWarn // a first probe that fails: at start, warn, never refuse
			if good {
				level = slog.LevelInfo
			}
			p.set.opts.Logger.Log(ctx, level, "upstream probe", "backend", p.Name, "upstream", u.Label, "good", good, "result", why)
		}
		p.observe(u, p.set.opts.Now())
		first = false
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// probeOnce GETs the probe path of u and reports whether it answered
// the expected status within the timeout, and what came.
func (p *Pool) probeOnce(ctx context.Context, u *Upstream) (good bool, result string) {
	ctx, cancel := context.WithTimeout(ctx, p.probe.Timeout.D())
	defer cancel()
	target := *u.URL
	target.Path = p.probe.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return false, err.Error()
	}
	if p.HostHeader != "" {
		req.Host = p.HostHeader
	}
	req.Header.Set("User-Agent", "cachegate-probe")
	resp, err := u.transport.RoundTrip(req)
	if err != nil {
		return false, err.Error()
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, probeBodyLimit))
	resp.Body.Close()
	return resp.StatusCode == p.probe.ExpectStatus, resp.Status
}
