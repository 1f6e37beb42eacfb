package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/cachegate/cachegate/policy"
)

// requireToken wraps h so that it answers only requests that carry the
// admin token of the config in force.
func requireToken(config func() *policy.Rules, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := config().Admin.Token
		if !authorized(r, token) {
			unauthorized(w, token)
			return
		}
		h(w, r)
	}
}

// authorized checks the bearer token. With no token configured nothing is
// authorized. The scheme name is case-insensitive (RFC 9110 §11.1) and may
// be followed by more than one space (§11.4: 1*SP). The SHA-256 digests of
// the two tokens are compared in constant time, so that neither the
// token's bytes nor its length show in how long a refusal takes
// (subtle.ConstantTimeCompare returns at once on a length mismatch).
func authorized(r *http.Request, token string) bool {
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || token == "" || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	want, have := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(strings.TrimLeft(got, " ")))
	return subtle.ConstantTimeCompare(have[:], want[:]) == 1
}

// unauthorized answers 401 with the challenge of RFC 6750 §3.
func unauthorized(w http.ResponseWriter, token string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="cachegate"`)
	msg := "missing or wrong bearer token\n"
	if token == "" {
		msg = "admin.token is not set: the admin API refuses every request\n"
	}
	http.Error(w, msg, http.StatusUnauthorized)
}
