package policy

import "strings"

// NormalizeHost is the one host normalizer: the key, route matching, purge
// scopes and the admin API all compare hosts in this form. It lower-cases
// host (RFC 3986 §3.2.2: the host is case-insensitive), drops the trailing
// dot of a fully qualified name ("Example.com." and "example.com" are the
// same site), and drops an empty port or the scheme's default port
// (§6.2.3). Any other port is kept. host is returned as it is, without
// allocating, when it is already normal.
func NormalizeHost(host, scheme string) string {
	name, port := splitPort(host)
	name = strings.TrimSuffix(name, ".")
	switch {
	case port == ":",
		port == ":80" && scheme == "http",
		port == ":443" && scheme == "https":
		port = ""
	}
	if len(name)+len(port) == len(host) && !hasUpper(name) {
		return host
	}
	return strings.ToLower(name) + port
}

// HostName is NormalizeHost without any port: the host purge scope and
// the host a route matches.
func HostName(host string) string {
	name, _ := splitPort(host)
	name = strings.TrimSuffix(name, ".")
	if hasUpper(name) {
		return strings.ToLower(name)
	}
	return name
}

// splitPort splits host into its name (an IPv6 literal keeps its
// brackets) and its port with the leading ":" ("" when there is none).
func splitPort(host string) (name, port string) {
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i >= 0 {
			return host[:i+1], host[i+1:]
		}
		return host, ""
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host, ':') == i {
		return host[:i], host[i:]
	}
	return host, ""
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}
