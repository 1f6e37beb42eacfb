package proxy

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// strictLanguage is the language an origin that parses Accept-Language
// strictly picks, as Django and golang.org/x/text do: the first range,
// or "en" (its default) when any member's weight is not a qvalue or a
// range is listed twice (it cannot tell which weight holds).
func strictLanguage(v string) string {
	seen := map[string]bool{}
	first := ""
	for _, member := range strings.Split(v, ",") {
		tag, params, hasParams := strings.Cut(strings.TrimSpace(member), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		if seen[tag] {
			return "en"
		}
		seen[tag] = true
		if hasParams {
			q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
			f, err := strconv.ParseFloat(q, 64)
			if !ok || err != nil || f < 0 || f > 1 {
				return "en"
			}
		}
		if first == "" {
			first = tag
		}
	}
	if first == "" {
		return "en"
	}
	return first
}

func TestAcceptLanguageReachesTheOriginAsItSelectsTheVariant(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		fmt.Fprint(w, "page in ", strictLanguage(strings.Join(r.Header.Values("Accept-Language"), ",")))
	})
	c := newCache(t, o, "")
	// Each of these selects the variant of "de" (policy.VaryKey), so the
	// origin must answer it as "de": otherwise what it makes of the odd
	// form is stored for every German reader (RFC 9111 §4.1).
	for i, odd := range [][]string{
		{"Accept-Language", "de;q=abc"},
		{"Accept-Language", "de;q=1.5"},
		{"Accept-Language", "de, de;q=0"},
		{"Accept-Language", "DE", "Accept-Language", "de;q=0"},
	} {
		path := fmt.Sprintf("/page/%d", i)
		c.get(t, path, odd...)
		resp, body := c.get(t, path, "Accept-Language", "de")
		if body != "page in de" {
			t.Errorf("after a request with %q, a German reader got %q (Cache-Status %q), want the German page", odd, body, resp.Header.Get("Cache-Status"))
		}
	}
}

// lastCookie is the value of the last cookie named name in the Cookie
// lines of r, as sent (quotes kept): what Django and other frameworks
// that keep the last one read.
func lastCookie(r *http.Request, name string) string {
	v := ""
	for _, line := range r.Header.Values("Cookie") {
		for _, pair := range strings.Split(line, ";") {
			if n, val, ok := strings.Cut(strings.TrimSpace(pair), "="); ok && n == name {
				v = val
			}
		}
	}
	return v
}

func TestAKeyedCookieReachesTheOriginAsItWasKeyed(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		lang := lastCookie(r, "lang")
		if lang != "de" && lang != "fr" {
			lang = "en" // the default for a language it does not know
		}
		fmt.Fprint(w, "page in ", lang)
	})
	c := newCache(t, o, "default_route:\n  key:\n    cookies: [lang]\n")
	for i, odd := range []struct{ cookie, keyedAs string }{
		{"lang=de; lang=fr", "de"},        // keyed by its first value
		{`lang="fr"`, "fr"},               // keyed unquoted
		{"lang=de; x=1; lang=nope", "de"}, // the last one is unknown
	} {
		path := fmt.Sprintf("/page/%d", i)
		c.get(t, path, "Cookie", odd.cookie)
		resp, body := c.get(t, path, "Cookie", "lang="+odd.keyedAs)
		if body != "page in "+odd.keyedAs {
			t.Errorf("after a request with Cookie %q, a reader with lang=%s got %q (Cache-Status %q), want the page of its language", odd.cookie, odd.keyedAs, body, resp.Header.Get("Cache-Status"))
		}
	}
}
