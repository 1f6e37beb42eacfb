package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/internal/testutil"
)

func TestPurgeWithoutAnAdminListenerRefusesWithAClearMessage(t *testing.T) {
	path := writeConfig(t, "127.0.0.1:0", "admin:\n  listen: \"\"\n")
	var stdout, stderr testutil.Buffer
	code := run([]string{"purge", "-config", path, "-token", "x", "-tag", "a"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "admin.listen") || !strings.Contains(stderr.String(), "-admin") {
		t.Errorf("exit %d, stderr %q; want 2 and a message naming admin.listen and -admin", code, stderr.String())
	}
}

// tokenChecker is an admin API that accepts a purge with the bearer token
// want only.
func tokenChecker(t *testing.T, want string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+want {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Write([]byte("{}\n"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestPurgeReadsTheTokenFromTheVariableTheExampleConfigUses(t *testing.T) {
	t.Setenv("CACHEGATE_TOKEN", "")
	t.Setenv("CACHEGATE_ADMIN_TOKEN", "s3cret")
	var stdout, stderr testutil.Buffer
	if code := run([]string{"purge", "-admin", tokenChecker(t, "s3cret"), "-tag", "a"}, &stdout, &stderr); code != 0 {
		t.Errorf("exit %d, stderr %q; want 0", code, stderr.String())
	}
}

func TestPurgeStillReadsTheTokenFromCachegateToken(t *testing.T) {
	t.Setenv("CACHEGATE_ADMIN_TOKEN", "")
	t.Setenv("CACHEGATE_TOKEN", "old")
	var stdout, stderr testutil.Buffer
	if code := run([]string{"purge", "-admin", tokenChecker(t, "old"), "-tag", "a"}, &stdout, &stderr); code != 0 {
		t.Errorf("exit %d, stderr %q; want 0", code, stderr.String())
	}
}
