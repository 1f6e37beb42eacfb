package policy

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestNormalizeHostIsTheOneHostForm(t *testing.T) {
	for _, tc := range []struct{ host, scheme, want, name string }{
		{"Example.COM", "http", "example.com", "example.com"},
		{"example.com.", "http", "example.com", "example.com"},
		{"Example.com.:80", "http", "example.com", "example.com"},
		{"example.com:443", "https", "example.com", "example.com"},
		{"example.com:443", "http", "example.com:443", "example.com"},
		{"example.com.:8080", "http", "example.com:8080", "example.com"},
		{"example.com:", "http", "example.com", "example.com"},
		{"[::1]:80", "http", "[::1]", "[::1]"},
		{"[::1]:8080", "https", "[::1]:8080", "[::1]"},
		{"already.normal", "http", "already.normal", "already.normal"},
	} {
		if got := NormalizeHost(tc.host, tc.scheme); got != tc.want {
			t.Errorf("NormalizeHost(%q, %q) = %q, want %q (RFC 3986 §3.2.2, §6.2.3)", tc.host, tc.scheme, got, tc.want)
		}
		if got := HostName(tc.host); got != tc.name {
			t.Errorf("HostName(%q) = %q, want %q", tc.host, got, tc.name)
		}
	}
	if n := testing.AllocsPerRun(100, func() { NormalizeHost("www.example.com", "https") }); n != 0 {
		t.Errorf("NormalizeHost of a normal host allocates %v times, want 0", n)
	}
}

func TestRouteMatchesEveryHostSpelling(t *testing.T) {
	cfg := mustParse(t, "origin: http://o\nroutes:\n  - name: site\n    match: {host: example.com}\n")
	for _, host := range []string{"example.com", "Example.COM.", "example.com.:8080"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		if got := cfg.Route(r).Name; got != "site" {
			t.Errorf("Host %q matches route %q, want site", host, got)
		}
	}
}

func TestAmbiguousPaths(t *testing.T) {
	for path, want := range map[string]bool{
		"/a/b":              false,
		"/a%2Fb":            false,
		"/a/..%2Fb":         true,
		"/a%2F..%2Fb":       true,
		"/a/..%5Cb":         true,
		"/a/%2E%2E%2Fb":     true,
		"/a/x..%2Fb":        false,
		"/files/v1%2F.x":    false,
		"/static/..;/admin": true,
		"/static/.;/admin":  true,
		"/a/%2e%2e;x/b":     true,
		"/a/b..;c":          false,
	} {
		if got := (Target{Path: normalizePath(path)}).Ambiguous(); got != want {
			t.Errorf("Target{Path: %q}.Ambiguous() = %v, want %v", normalizePath(path), got, want)
		}
	}
}

func TestRemoveHopByHopRemovesConnectionListedAndUnderscoreFields(t *testing.T) {
	h := http.Header{
		"Connection": {"keep-alive, X-Lang", "Cookie"}, "X-Lang": {"de"}, "Cookie": {"a=1"},
		"Keep-Alive": {"5"}, "Te": {"trailers"}, "X_forwarded_host": {"evil"}, "Accept": {"*/*"},
	}
	RemoveHopByHop(h)
	if len(h) != 2 || h.Get("Accept") != "*/*" || h.Get("Te") != "trailers" {
		t.Errorf("RFC 9110 §7.6.1: left %v, want only Accept and TE: trailers", h)
	}
	up := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "X-Gone": {"1"}}
	RemoveHopByHop(up)
	if up.Get("Upgrade") != "websocket" || up.Get("Connection") != "Upgrade" {
		t.Errorf("RFC 9110 §7.8: an upgrade keeps Connection: Upgrade and Upgrade, got %v", up)
	}
}

func TestSetForwardingTrustsOnlyConfiguredProxies(t *testing.T) {
	cfg := mustParse(t, "origin: http://o\ntrusted_proxies: [10.0.0.0/8, 2001:db8::1]\n")
	client := func() http.Header {
		return http.Header{"X-Forwarded-For": {"1.2.3.4"}, "X-Forwarded-Proto": {"https"}, "X-Real-Ip": {"6.6.6.6"},
			"Forwarded": {"for=1.2.3.4;host=evil;by=x;proto=https"}, "X-Forwarded-Host": {"evil"}}
	}
	for _, tc := range []struct {
		peer                  string
		xff, proto, forwarded string
	}{
		{"192.0.2.7", "192.0.2.7", "http", ""},
		{"10.1.2.3", "1.2.3.4, 10.1.2.3", "https", "for=1.2.3.4;proto=https, for=10.1.2.3"},
		{"::ffff:10.1.2.3", "1.2.3.4, 10.1.2.3", "https", "for=1.2.3.4;proto=https, for=10.1.2.3"},
		{"2001:db8::1", "1.2.3.4, 2001:db8::1", "https", `for=1.2.3.4;proto=https, for="[2001:db8::1]"`},
		{"2001:db8::2", "2001:db8::2", "http", ""},
	} {
		h := client()
		r := &http.Request{Host: "Site.test.", Header: h}
		scheme := cfg.SetForwarding(r, netip.MustParseAddr(tc.peer).Unmap(), "http")
		if h.Get("X-Forwarded-For") != tc.xff || scheme != tc.proto || h.Get("X-Forwarded-Proto") != tc.proto ||
			h.Get("Forwarded") != tc.forwarded || h.Get("X-Forwarded-Host") != "site.test" || h.Get("X-Real-Ip") != "" {
			t.Errorf("from %s: scheme %q, fields %v; want X-Forwarded-For %q, proto %q, Forwarded %q, X-Forwarded-Host site.test",
				tc.peer, scheme, h, tc.xff, tc.proto, tc.forwarded)
		}
	}
}

func TestClientAddrIsThePeerUnlessATrustedProxyForwardedAnother(t *testing.T) {
	cfg := mustParse(t, "origin: http://o\ntrusted_proxies: [10.0.0.0/8]\n")
	for _, tc := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"192.0.2.7", []string{"1.2.3.4, 192.0.2.7"}, "192.0.2.7"},         // untrusted: its chain is not believed
		{"10.1.2.3", []string{"1.2.3.4, 10.1.2.3"}, "1.2.3.4"},             // one trusted hop
		{"10.1.2.3", []string{"1.2.3.4", "10.9.9.9, 10.1.2.3"}, "1.2.3.4"}, // two trusted hops, two fields
		{"10.1.2.3", []string{"6.6.6.6, 1.2.3.4, 10.1.2.3"}, "1.2.3.4"},    // what the client itself sent is skipped
		{"10.1.2.3", []string{"junk, 10.1.2.3"}, "10.1.2.3"},               // not an address: the last trusted one
		{"10.1.2.3", []string{"10.1.2.3"}, "10.1.2.3"},                     // only trusted proxies
		{"::ffff:192.0.2.7", nil, "192.0.2.7"},
	} {
		if got := cfg.ClientAddr(tc.xff, netip.MustParseAddr(tc.peer)); got != tc.want {
			t.Errorf("from %s with X-Forwarded-For %q: client %q, want %q", tc.peer, tc.xff, got, tc.want)
		}
	}
}

func TestContentTypeFitsTheMatchedExtension(t *testing.T) {
	for _, tc := range []struct {
		pattern, contentType string
		fits                 bool
	}{
		{"/**.css", "text/css; charset=utf-8", true},
		{"/**.css", "text/html; charset=utf-8", false},
		{"/**.css", "", false},
		{"/static/*.js", "application/javascript", true},
		{"/static/*.js", "text/javascript", true},
		{"/static/*.JS", "text/html", false},
		{"/img/**.png", "image/png", true},
		{"/img/**.png", "image/jpeg", false},
		{"/fonts/*.woff2", "font/woff2", true},
	} {
		ext := matchedExtension(tc.pattern)
		if ext == "" {
			t.Fatalf("matchedExtension(%q) = \"\", want an extension", tc.pattern)
		}
		if got := ContentTypeFits(ext, http.Header{"Content-Type": {tc.contentType}}); got != tc.fits {
			t.Errorf("%s with Content-Type %q: fits = %v, want %v", tc.pattern, tc.contentType, got, tc.fits)
		}
	}
	for _, p := range []string{"/static/", "/a.css", "/static/**", "/x/*.unknownext"} {
		if ext := matchedExtension(p); ext != "" {
			t.Errorf("matchedExtension(%q) = %q, want none: the route does not match by a known extension", p, ext)
		}
	}
}

func TestTheForwardedPeerAddressIsTheCanonicalFormWhateverRemoteAddrSays(t *testing.T) {
	for _, tc := range []struct{ peer, remote, want string }{
		{"192.0.2.7", "192.0.2.7:4711", "192.0.2.7"},
		{"192.0.2.7", "[::ffff:192.0.2.7]:4711", "192.0.2.7"},
		{"192.0.2.7", "198.51.100.1:4711", "192.0.2.7"}, // a RemoteAddr naming another address is not used
		{"192.0.2.7", "192.0.2.7", "192.0.2.7"},
		{"192.0.2.7", "", "192.0.2.7"},
		{"2001:db8::1", "[2001:db8::1]:4711", "2001:db8::1"},
		{"2001:db8::1", "[2001:DB8:0::1]:4711", "2001:db8::1"},
	} {
		if got := addrText(netip.MustParseAddr(tc.peer), tc.remote); got != tc.want {
			t.Errorf("addrText(%s, %q) = %q, want %q", tc.peer, tc.remote, got, tc.want)
		}
	}
}
