// Package hostile holds what hostile clients send, for the poisoning
// tests of several packages (proxy in process, e2e through the binary).
package hostile

// ForwardingFields are the forwarding family as a hostile client sends
// it, "Name: value" each, to make an origin build URLs, redirects or
// routes from it. cachegate must pass none of them from an untrusted
// client.
var ForwardingFields = []string{
	"Forwarded: for=6.6.6.6;host=evil.example;proto=https",
	"X-Forwarded-For: 6.6.6.6", "X-Forwarded-Host: evil.example", "X-Forwarded-Proto: https",
	"X-Forwarded-Prefix: /evil", "X-Forwarded-Scheme: https", "X-Forwarded-Port: 6666",
	"X-Forwarded-Server: evil.example", "X-Forwarded-Ssl: on", "X-Forwarded: for=6.6.6.6",
	"X-Host: evil.example", "X-Original-Host: evil.example", "X-Original-URL: /admin",
	"X-Original-Uri: /admin", "X-Rewrite-URL: /admin", "X-HTTP-Method-Override: DELETE",
	"X-HTTP-Method: DELETE", "X-Method-Override: DELETE", "Front-End-Https: on",
	"X-Url-Scheme: https", "X-Real-IP: 6.6.6.6", "True-Client-IP: 6.6.6.6", "X-Client-IP: 6.6.6.6",
	"X-Cluster-Client-IP: 6.6.6.6", "CF-Connecting-IP: 6.6.6.6", "Fastly-Client-IP: 6.6.6.6",
	"X_Forwarded_Host: evil.example",
}
