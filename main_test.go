package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/internal/testutil"
)

// writeConfig writes a minimal config listening on listen and returns its path.
func writeConfig(t *testing.T, listen, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cachegate.yaml")
	body := "origin: http://127.0.0.1:1\nlisten: \"" + listen + "\"\n" + extra
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// busyAddress is an address already taken, so that a command that wrongly
// starts the server fails at once instead of serving forever.
func busyAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

func TestASubcommandAfterTheFlagsIsRecognised(t *testing.T) {
	path := writeConfig(t, busyAddress(t), "")
	for _, args := range [][]string{
		{"-config", path, "validate"},
		{"-config=" + path, "validate"},
		{"validate", "-config", path},
	} {
		var stdout, stderr testutil.Buffer
		if code := run(args, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), ": ok") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 0 and ok", args, code, stdout.String(), stderr.String())
		}
	}
}

func TestExtraArgumentsAreAnErrorThatNamesThem(t *testing.T) {
	path := writeConfig(t, busyAddress(t), "")
	for _, args := range [][]string{
		{"validate", "-config", path, "extra"},
		{"-config", path, "validate", "extra"},
		{"version", "extra"},
		{"purge", "-admin", "http://127.0.0.1:1", "-token", "x", "-tag", "a", "extra"},
	} {
		var stdout, stderr testutil.Buffer
		code := run(args, &stdout, &stderr)
		msg := stderr.String()
		if code != 2 || !strings.Contains(msg, `"extra"`) || strings.Count(strings.TrimSpace(msg), "\n") != 0 {
			t.Errorf("%q: exit %d, stderr %q; want 2 and one line naming \"extra\"", args, code, msg)
		}
	}
}

func TestAnUnknownCommandAfterTheFlagsIsAnError(t *testing.T) {
	path := writeConfig(t, busyAddress(t), "")
	var stdout, stderr testutil.Buffer
	if code := run([]string{"-config", path, "bogus"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `"bogus"`) {
		t.Errorf("exit %d, stderr %q; want 2 naming the command", code, stderr.String())
	}
}

func TestTheServersMetricsStampTheConfigLoadAtStart(t *testing.T) {
	rec := httptest.NewRecorder()
	newMetrics().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "cachegate_config_last_reload_success_timestamp_seconds "); ok {
			if got, err := strconv.ParseFloat(v, 64); err != nil || got < 1e9 {
				t.Fatalf("last reload success = %q, want the time of the start", v)
			}
			return
		}
	}
	t.Fatalf("no cachegate_config_last_reload_success_timestamp_seconds in\n%s", rec.Body.String())
}

func TestValidateAndStartWarnOfABackendNoRouteUsesWithItsLine(t *testing.T) {
	path := writeConfig(t, busyAddress(t), "backends:\n  - name: staging\n    upstreams: [{url: \"http://127.0.0.1:1\"}]\n")
	want := path + `:4: backends[0].name: backend "staging" is used by no route nor default_route`
	var stdout, stderr testutil.Buffer
	if code := run([]string{"validate", "-config", path}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), ": ok") {
		t.Fatalf("validate: exit %d, stdout %q, stderr %q; want 0 and ok (a warning refuses nothing)", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "warning: "+want) {
		t.Errorf("validate printed %q, want the warning %q", stderr.String(), want)
	}
	// The listen address is taken: serve stops after logging at start.
	var logged testutil.Buffer
	run([]string{"-config", path}, &stdout, &logged)
	quoted := strconv.Quote(want) // as the text log writes a value with spaces
	if !strings.Contains(logged.String(), "config warning") || !strings.Contains(logged.String(), quoted[1:len(quoted)-1]) {
		t.Errorf("the start logged %q, want the warning %q", logged.String(), want)
	}
}
