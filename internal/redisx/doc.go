// Package redisx holds the Redis patterns that collapse, purge and certs
// share: token leases (one holder at a time, released only by that
// holder), shared leases (several holders, each removing only itself),
// subscriptions that come back after a lost connection and say how long
// they were gone, and the memory of a recent failure that keeps
// per-request calls off a Redis that does not answer.
//
// Each is a few lines over go-redis; they live here so that the
// compare-and-delete script, the reconnect loop and the failure window are
// written, tested against a real redis-server, and fixed once.
package redisx
