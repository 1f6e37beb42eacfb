// Package admin serves the admin listener: purges (POST /purge, the PURGE
// method of the proxy listener, HMAC-signed CMS webhooks), config reload,
// health and readiness, the metadata of a stored entry (found by the
// proxy's own lookup), the live stream of request records (GET /live),
// Prometheus metrics and profiles.
//
// Every endpoint that changes or reveals something needs the admin bearer
// token; a webhook is signed instead. /healthz, /readyz and /metrics are
// open, as probes and scrapers expect. The package turns requests into
// purge scopes (normalized as keys are, through policy); recording and
// honouring them is purge's job.
package admin
