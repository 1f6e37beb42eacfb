package admin

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cachegate/cachegate/policy"
)

func TestBearerSchemeIsCaseInsensitiveAndOnlyTheExactTokenPasses(t *testing.T) {
	cfg := testConfig(t) // admin.token: secret
	h := requireToken(func() *policy.Rules { return cfg }, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	rows := []struct {
		auth string
		want int
	}{
		{"Bearer secret", http.StatusNoContent},
		// RFC 9110 §11.1: the auth-scheme is case-insensitive.
		{"bearer secret", http.StatusNoContent},
		{"BEARER secret", http.StatusNoContent},
		{"BeArEr  secret", http.StatusNoContent},
		{"", http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"Bearer ", http.StatusUnauthorized},
		{"Basic secret", http.StatusUnauthorized},
		{"Bearersecret", http.StatusUnauthorized},
		{"Bearer secre", http.StatusUnauthorized},
		{"Bearer secrets", http.StatusUnauthorized},
		{"Bearer SECRET", http.StatusUnauthorized},
	}
	for _, row := range rows {
		r := httptest.NewRequest(http.MethodPost, "/purge", nil)
		if row.auth != "" {
			r.Header.Set("Authorization", row.auth)
		}
		w := httptest.NewRecorder()
		h(w, r)
		if w.Code != row.want {
			t.Errorf("Authorization %q: got %d, want %d", row.auth, w.Code, row.want)
		}
	}
}
