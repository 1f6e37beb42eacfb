package e2e

import (
	"bufio"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

// demoRun is a running `cachegate demo` and what it printed.
type demoRun struct {
	cmd            *exec.Cmd
	stdout, stderr *testutil.Buffer
	exited         chan struct{}
}

// startDemo runs `cachegate demo` on free loopback ports and waits for its
// walkthrough and its admin listener; a port taken between finding it free
// and binding it is retried on others.
func startDemo(t *testing.T) *demoRun {
	t.Helper()
	for attempt := 1; ; attempt++ {
		d := &demoRun{stdout: &testutil.Buffer{}, stderr: &testutil.Buffer{}, exited: make(chan struct{})}
		d.cmd = exec.Command(binary, "demo", "-listen", freeAddr(t), "-origin-listen", freeAddr(t), "-admin-listen", freeAddr(t))
		d.cmd.Stdout, d.cmd.Stderr = d.stdout, d.stderr
		d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := d.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { d.cmd.Wait(); close(d.exited) }()
		up := false
		testutil.Eventually(t, 20*time.Second, "the demo listening or exited", func() bool {
			select {
			case <-d.exited:
				return true
			default:
			}
			// The walkthrough is printed once the demo serves and handles
			// its signals.
			up = strings.Contains(d.stdout.String(), "/metrics | grep")
			return up
		})
		if up {
			t.Cleanup(func() { d.stop(t) })
			return d
		}
		if attempt >= 3 || !strings.Contains(d.stderr.String(), "address already in use") {
			t.Fatalf("cachegate demo exited at start:\n%s%s", d.stdout.String(), d.stderr.String())
		}
	}
}

func (d *demoRun) stop(t *testing.T) {
	terminate(d.cmd, d.exited)
	if t.Failed() {
		t.Logf("cachegate demo printed:\n%s\nand logged:\n%s", d.stdout.String(), d.stderr.String())
	}
}

// printed returns the walkthrough's lines that contain every one of words.
func (d *demoRun) printed(t *testing.T, words ...string) string {
	t.Helper()
	s := bufio.NewScanner(strings.NewReader(d.stdout.String()))
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		matches := true
		for _, w := range words {
			matches = matches && strings.Contains(line, w)
		}
		if matches {
			return line
		}
	}
	t.Fatalf("the demo printed no line with %q:\n%s", words, d.stdout.String())
	return ""
}

// runPrinted runs a command line the walkthrough printed (no quoting in it).
func runPrinted(t *testing.T, line string) string {
	t.Helper()
	f := strings.Fields(line)
	out, err := exec.Command(f[0], f[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	return string(out)
}

func getBody(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestDemoPrintsAWalkthroughWhosePurgeAndAdminCommandsWorkAsPrinted(t *testing.T) {
	d := startDemo(t)
	admin := strings.Fields(d.printed(t, "admin API", "token"))
	if len(admin) != 5 || admin[3] != "token" {
		t.Fatalf("admin line %q, want: admin API URL token TOKEN", admin)
	}
	adminURL, token := admin[2], admin[4]
	health := exec.Command(binary, "health", "-admin", adminURL, "-token", token)
	if out, err := health.CombinedOutput(); err != nil {
		t.Fatalf("cachegate health against the demo: %v\n%s", err, out)
	}
	req, _ := http.NewRequest(http.MethodPost, adminURL+"/reload", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /reload with the printed token: %s, want 200", resp.Status)
	}

	curl := strings.Fields(d.printed(t, "curl", "tag=news"))
	page := strings.Trim(curl[len(curl)-1], "'")
	_, first := getBody(t, page)
	if resp, again := getBody(t, page); again != first || !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
		t.Fatalf("second GET of %s: Cache-Status %q; want a hit", page, resp.Header.Get("Cache-Status"))
	}
	if out := runPrinted(t, d.printed(t, " purge ", "-tag news")); !strings.Contains(out, `"tags":["news"]`) {
		t.Fatalf("the printed purge answered %q", out)
	}
	if resp, after := getBody(t, page); after == first || !strings.Contains(resp.Header.Get("Cache-Status"), "detail=purged") {
		t.Errorf("GET after the printed purge: Cache-Status %q; want a miss of a purged entry", resp.Header.Get("Cache-Status"))
	}
}

func TestDemoReloadsItsConfigFileOnSIGHUP(t *testing.T) {
	d := startDemo(t)
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "the demo's reload logged", func() bool {
		return strings.Contains(d.stderr.String(), "config reloaded") || strings.Contains(d.stderr.String(), "reload refused")
	})
	if log := d.stderr.String(); strings.Contains(log, "reload refused") || strings.Contains(log, "level=ERROR") {
		t.Errorf("SIGHUP in the demo logged an error:\n%s", log)
	}
}
