// Package upstream is the origin side's backends: each a pool of upstream
// servers with its own transport (timeouts, keep-alive pool, TLS), a
// balancer that picks one healthy upstream per request (round robin, least
// connections, random with two choices, or consistent hashing on the cache
// key), and health from passive marking (failures within a window take an
// upstream out for a cool-down, as nginx's max_fails) and active probes
// (a window of results and a threshold, as Varnish's). Backups get requests
// only while every primary is down. A request whose connection failed
// before anything was sent is retried once on another upstream when it is
// idempotent. The proxy package sends its fills through a Pool.
package upstream
