package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/internal/testutil"
)

// adminAnswering is an admin API whose /healthz and /readyz answer status
// with body.
func adminAnswering(t *testing.T, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		w.Write([]byte(r.URL.Path + " " + body + "\nbackend origin: 1/1 upstreams healthy\n"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestHealthExitsZeroWithTheAnswerWhenHealthzSaysOK(t *testing.T) {
	var stdout, stderr testutil.Buffer
	code := run([]string{"health", "-admin", adminAnswering(t, 200, "ok"), "-token", "x"}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "/healthz: /healthz ok") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and the first line of /healthz", code, stdout.String(), stderr.String())
	}
}

func TestHealthWithReadyAsksReadyz(t *testing.T) {
	var stdout, stderr testutil.Buffer
	code := run([]string{"health", "-ready", "-admin", adminAnswering(t, 200, "degraded: redis down"), "-token", "x"}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "/readyz degraded: redis down") || strings.Contains(stdout.String(), "backend") {
		t.Errorf("exit %d, stdout %q; want 0 and only the first line of /readyz", code, stdout.String())
	}
}

func TestHealthExitsOneWhenTheInstanceAnswersAnError(t *testing.T) {
	var stdout, stderr testutil.Buffer
	code := run([]string{"health", "-admin", adminAnswering(t, 503, "shutting down"), "-token", "x"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "unhealthy") || !strings.Contains(stderr.String(), "503") {
		t.Errorf("exit %d, stderr %q; want 1 and a line saying unhealthy with the status", code, stderr.String())
	}
}

func TestHealthExitsOneWhenNothingListens(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var stdout, stderr testutil.Buffer
	code := run([]string{"health", "-admin", "http://" + addr, "-token", "x"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "unhealthy") {
		t.Errorf("exit %d, stderr %q; want 1 and a line saying unhealthy", code, stderr.String())
	}
}

func TestHealthReadsTheAdminAddressFromTheConfigEvenAWildcardOne(t *testing.T) {
	srv := adminAnswering(t, 200, "ok")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv, "http://"))
	t.Setenv("CACHEGATE_ADMIN_TOKEN", "")
	t.Setenv("CACHEGATE_TOKEN", "")
	path := writeConfig(t, "127.0.0.1:0", "admin:\n  listen: \":"+port+"\"\n")
	var stdout, stderr testutil.Buffer
	if code := run([]string{"health", "-config", path}, &stdout, &stderr); code != 0 {
		t.Errorf("exit %d, stderr %q; want 0: admin.listen %q is reached", code, stderr.String(), ":"+port)
	}
}

func TestHealthPrintsNoControlCharactersOfTheAnswer(t *testing.T) {
	var stdout, stderr testutil.Buffer
	code := run([]string{"health", "-admin", adminAnswering(t, 200, "ok\x1b]0;pwned\x07\x1b[2J"), "-token", "x"}, &stdout, &stderr)
	if code != 0 || strings.ContainsAny(stdout.String(), "\x1b\x07") {
		t.Errorf("exit %d, stdout %q; want 0 and the answer without its control characters", code, stdout.String())
	}
}

func TestHealthGivesUpOnAnInstanceThatNeverAnswers(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	var stdout, stderr testutil.Buffer
	code := run([]string{"health", "-timeout", "100ms", "-admin", srv.URL, "-token", "x"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "unhealthy") {
		t.Errorf("exit %d, stderr %q; want 1 and unhealthy after -timeout", code, stderr.String())
	}
}

func TestHealthRefusesATimeoutThatIsNotPositive(t *testing.T) {
	for _, timeout := range []string{"0s", "-1s"} {
		var stdout, stderr testutil.Buffer
		code := run([]string{"health", "-timeout", timeout, "-admin", adminAnswering(t, 200, "ok"), "-token", "x"}, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "-timeout") {
			t.Errorf("-timeout %s: exit %d, stderr %q; want 2 and the flag named (not a healthy instance called unhealthy)", timeout, code, stderr.String())
		}
	}
}
