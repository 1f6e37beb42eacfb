// Package certs provides the TLS certificates of the proxy's HTTPS
// listener: static certificate files loaded at start and chosen by SNI, and
// certificates obtained and renewed from an ACME CA (RFC 8555) through
// certmagic, for configured domains and, when enabled, on demand at the
// first handshake for a name that an ask URL approves. A Manager hands out
// the tls.Config of the HTTPS listener and the handler of the plain
// listener, which answers ACME HTTP-01 challenges and can redirect
// everything else to HTTPS. When the proxy's store is Redis, certificates,
// account keys and the locks that make one instance of many order a
// certificate live in Redis (RedisStorage), so every instance serves the
// same certificate; otherwise they live in a directory on disk.
package certs
