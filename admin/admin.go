package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/cachegate/cachegate/accesslog"
	"github.com/cachegate/cachegate/certs"
	"github.com/cachegate/cachegate/metrics"
	"github.com/cachegate/cachegate/policy"
)

// Options are what the admin listener serves. Config and Purges are
// required; an endpoint whose part is nil is not served.
type Options struct {
	// Config returns the config in force (admin.token, routes, webhooks).
	Config func() *policy.Rules
	// Purges serves POST /purge and the webhooks (and, in the proxy,
	// the PURGE method).
	Purges *Purges
	// Reload reads the config file again and applies it (POST /reload,
	// SIGHUP): it returns the changed options that take effect only at the
	// next start, or why the new config was refused (the old one stays).
	Reload func() (restartNeeded []string, err error)
	// PurgeLog lists the recent purges on GET /purges.
	PurgeLog PurgeLog
	// Entries finds stored entries for GET /debug/entry.
	Entries Entries
	// Ready is what GET /readyz checks.
	Ready Readiness
	// Metrics is exposed on GET /metrics.
	Metrics *metrics.Metrics
	// Certs, when set (tls.listen), adds its errors to /readyz and the
	// expiry of its certificates to /metrics.
	Certs *certs.Manager
	// Live, when set, is streamed on GET /live.
	Live *accesslog.Hub
	// Now is the clock of the ages /debug/entry shows. Default time.Now.
	Now func() time.Time
}

// New returns the handler of the admin listener.
func New(o Options) http.Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	token := func(h http.HandlerFunc) http.HandlerFunc { return requireToken(o.Config, h) }
	mux := http.NewServeMux()
	mux.HandleFunc("POST /purge", o.Purges.ServePurge)
	mux.HandleFunc("POST /webhooks/{name}", o.Purges.ServeWebhook)
	if o.Reload != nil {
		mux.HandleFunc("POST /reload", token(serveReload(o.Reload)))
	}
	if o.PurgeLog != nil {
		mux.HandleFunc("GET /purges", token(servePurges(o.PurgeLog)))
	}
	if o.Entries != nil {
		mux.HandleFunc("GET /debug/entry", token(serveEntry(o.Entries, o.Now)))
	}
	if o.Live != nil {
		mux.HandleFunc("GET /live", token(serveLive(o.Live)))
	}
	if o.Metrics != nil {
		mux.Handle("GET /metrics", metricsHandler(o.Metrics, o.Certs))
	}
	// Profiles for finding where time goes.
	mux.HandleFunc("GET /debug/pprof/", token(pprof.Index))
	mux.HandleFunc("GET /debug/pprof/profile", token(pprof.Profile))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", serveReady(o.Ready, o.Certs))
	return mux
}

// ReloadAnswer is the answer to POST /reload.
type ReloadAnswer struct {
	// Reloaded is false when the new config was refused; Error says why.
	Reloaded bool   `json:"reloaded"`
	Error    string `json:"error,omitempty"`
	// RestartNeeded names the changed options that take effect only at
	// the next start (listen addresses, the store); never null.
	RestartNeeded []string `json:"restart_needed"`
}

// serveReload handles POST /reload: 200 with the options that need a
// restart, or 422 with why the new config was refused.
func serveReload(reload func() ([]string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		restart, err := reload()
		answer, status := ReloadAnswer{Reloaded: err == nil, RestartNeeded: restart}, http.StatusOK
		if err != nil {
			answer.Error = "reload refused; the old config stays: " + err.Error()
			answer.RestartNeeded, status = nil, http.StatusUnprocessableEntity
		}
		if answer.RestartNeeded == nil {
			answer.RestartNeeded = []string{}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		enc.Encode(answer)
	}
}

// metricsHandler serves /metrics with the expiry of every certificate
// mgr serves brought up to date first.
func metricsHandler(m *metrics.Metrics, mgr *certs.Manager) http.Handler {
	h := m.Handler()
	if mgr == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for name, t := range mgr.Expiries() {
			m.CertExpiry(name, t)
		}
		h.ServeHTTP(w, r)
	})
}
