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

// serverOnlySecrets is a config whose webhook secret and origin come from
// variables only the server has, with the admin token from tokenVar.
func serverOnlySecrets(t *testing.T, adminURL, tokenVar string) string {
	t.Helper()
	extra := "admin:\n  listen: \"" + strings.TrimPrefix(adminURL, "http://") + "\"\n  token: \"${" + tokenVar + "}\"\n" +
		"webhooks:\n  - name: cms\n    secret: \"${CG_TEST_UNSET_WEBHOOK_SECRET}\"\n    tags: [\"post\"]\n"
	return writeConfig(t, "127.0.0.1:0", extra)
}

func TestPurgeWorksWhenOnlyAServerSecretLikeAWebhookSecretIsUnset(t *testing.T) {
	t.Setenv("CACHEGATE_ADMIN_TOKEN", "")
	t.Setenv("CACHEGATE_TOKEN", "")
	t.Setenv("CG_TEST_ADMIN_TOKEN", "s3cret")
	path := serverOnlySecrets(t, tokenChecker(t, "s3cret"), "CG_TEST_ADMIN_TOKEN")
	var stdout, stderr testutil.Buffer
	if code := run([]string{"purge", "-config", path, "-tag", "a"}, &stdout, &stderr); code != 0 {
		t.Errorf("exit %d, stderr %q; want 0", code, stderr.String())
	}
}

func TestPurgeWithTheAdminTokenVariableUnsetNamesItsVariableLineAndOption(t *testing.T) {
	t.Setenv("CACHEGATE_ADMIN_TOKEN", "")
	t.Setenv("CACHEGATE_TOKEN", "")
	path := serverOnlySecrets(t, tokenChecker(t, "s3cret"), "CG_TEST_UNSET_ADMIN_TOKEN")
	var stdout, stderr testutil.Buffer
	code := run([]string{"purge", "-config", path, "-tag", "a"}, &stdout, &stderr)
	want := path + ":5: admin.token: environment variable CG_TEST_UNSET_ADMIN_TOKEN is not set"
	if code != 2 || !strings.Contains(stderr.String(), want) || strings.Contains(stderr.String(), "WEBHOOK") {
		t.Errorf("exit %d, stderr %q; want 2 and %q, without the webhook's variable", code, stderr.String(), want)
	}
}
