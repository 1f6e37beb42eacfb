package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testutil"
)

// client runs a cachegate client command against in's admin API; the
// process is killed at the end of the test if it still runs.
func (in *instance) client(args ...string) (cmd *exec.Cmd, stdout, stderr *testutil.Buffer, exited chan struct{}) {
	in.t.Helper()
	stdout, stderr = &testutil.Buffer{}, &testutil.Buffer{}
	cmd = exec.Command(binary, append(args, "-admin", in.AdminURL, "-token", "test-token")...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		in.t.Fatal(err)
	}
	exited = make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	in.t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	return cmd, stdout, stderr, exited
}

func TestCachegateLogJSONStreamsTheFilteredRecordsOfARunningInstance(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL})
	cmd, stdout, stderr, exited := in.client("log", "-json", "-prefix", "/max-age/")
	ua := http.Header{"User-Agent": {`probe "1"`}, "Referer": {"https://ref.test/"}}
	// The viewer subscribes a moment after it starts: ask until a record
	// comes.
	testutil.Eventually(t, 30*time.Second, "a record on cachegate log's output", func() bool {
		in.get("/other") // not selected by -prefix
		in.do(http.MethodGet, "/max-age/60", ua)
		return strings.Contains(stdout.String(), "\n")
	})
	line, _, _ := strings.Cut(stdout.String(), "\n")
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("first line %q: %v (stderr %s)", line, err, stderr.String())
	}
	if rec["method"] != "GET" || rec["uri"] != "/max-age/60" || rec["host"] != siteHost || rec["status"] != float64(200) ||
		rec["user_agent"] != `probe "1"` || rec["referer"] != "https://ref.test/" || rec["client"] != "127.0.0.1" ||
		rec["route"] != "default" || rec["proto"] != "HTTP/1.1" {
		t.Errorf("record = %v", rec)
	}
	if id, _ := rec["request_id"].(string); len(id) != 16 {
		t.Errorf("request_id %q, want 16 hex digits", id)
	}
	if total, _ := rec["total_us"].(float64); total <= 0 {
		t.Errorf("total_us = %v, want > 0", rec["total_us"])
	}
	if strings.Contains(stdout.String(), `"/other"`) {
		t.Errorf("-prefix /max-age/ let /other through:\n%s", stdout.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	<-exited
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("cachegate log exited %d after SIGINT: %s", code, stderr.String())
	}
	testutil.Eventually(t, 10*time.Second, "the viewer's subscription gone", func() bool { return in.metric("cachegate_live_viewers") == "0" })
}

func TestCachegateTopOnceJSONCountsMissesByURL(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL})
	_, stdout, stderr, exited := in.client("top", "-once", "-json", "-window", "3s", "-by", "misses")
	// no-store: every request is a miss; /max-age/60 a miss then hits.
	for done := false; !done; {
		select {
		case <-exited:
			done = true
		case <-time.After(20 * time.Millisecond):
			in.get("/no-store/top")
			in.get("/max-age/60")
		}
	}
	var report struct {
		By      string
		Records int
		URLs    []struct {
			URL      string
			Requests int
			Misses   int
			Bytes    int
		}
	}
	if err := json.Unmarshal([]byte(stdout.String()), &report); err != nil {
		t.Fatalf("cachegate top -once -json printed %q (%v); stderr %s", stdout.String(), err, stderr.String())
	}
	if report.By != "misses" || report.Records == 0 || len(report.URLs) < 2 {
		t.Fatalf("report = %+v", report)
	}
	first := report.URLs[0]
	if first.URL != siteHost+"/no-store/top" || first.Misses != first.Requests || first.Bytes == 0 {
		t.Errorf("first URL by misses = %+v, want /no-store/top, every request a miss", first)
	}
	if second := report.URLs[1]; second.URL != siteHost+"/max-age/60" || second.Misses > 1 {
		t.Errorf("second URL = %+v, want /max-age/60 with at most one miss", second)
	}
}

// combinedLine is the NCSA combined format.
var combinedLine = regexp.MustCompile(`^\S+ - - \[[^\]]+\] "[^"]*" \d{3} \d+ "[^"]*" "[^"]*"$`)

func TestTheAccessLogFileIsCombinedAndReopenedOnSIGUSR1(t *testing.T) {
	o := startOrigin(t)
	path := filepath.Join(t.TempDir(), "access.log")
	in := startInstance(t, setup{origin: o.URL, extra: fmt.Sprintf("access_log: {enabled: true, format: combined, output: %q}\n", path)})
	in.do(http.MethodGet, "/max-age/60", http.Header{"User-Agent": {`evil" "x`}})
	testutil.Eventually(t, 30*time.Second, "the first line in the access log", func() bool {
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), `"GET /max-age/60 HTTP/1.1" 200 `)
	})
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	in.signal(syscall.SIGUSR1)
	testutil.Eventually(t, 30*time.Second, "a line in the reopened file", func() bool {
		in.get("/after")
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), `"GET /after HTTP/1.1"`)
	})
	old, _ := os.ReadFile(path + ".1")
	lines := strings.Split(strings.TrimSuffix(string(old), "\n"), "\n")
	for _, line := range lines {
		if !combinedLine.MatchString(line) {
			t.Errorf("not a combined log line: %q", line)
		}
	}
	if !strings.Contains(lines[0], `"evil\x22 \x22x"`) {
		t.Errorf("the user agent's quotes are not escaped: %q", lines[0])
	}
}

func TestAViewerThatNeverReadsDoesNotHoldRequestsAndItsDropsAreCounted(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL})
	conn, err := net.Dial("tcp", strings.TrimPrefix(in.AdminURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /live HTTP/1.1\r\nHost: admin\r\nAuthorization: Bearer test-token\r\n\r\n")
	testutil.Eventually(t, 10*time.Second, "the viewer subscribed", func() bool { return in.metric("cachegate_live_viewers") == "1" })
	// Long URIs fill the socket buffers in a few thousand records; the
	// connection is never read. Every request must still be answered (a
	// blocked one fails the test at the client's timeout).
	c := &http.Client{Timeout: 30 * time.Second}
	target := in.URL + "/max-age/600?pad=" + strings.Repeat("x", 8000)
	dropped := func() float64 { v, _ := strconv.ParseFloat(in.metric("cachegate_live_dropped_total"), 64); return v }
	for i := 0; dropped() == 0; i++ {
		if i == 200 {
			t.Fatalf("no record dropped after %d00 requests to a viewer that never reads", i)
		}
		for range 100 {
			resp, err := c.Get(target)
			if err != nil {
				t.Fatalf("a request while a viewer does not read: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	before := dropped()
	for range 10 {
		resp, err := c.Get(target)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	testutil.Eventually(t, 10*time.Second, "the dropped count growing", func() bool { return dropped() > before })
}

func TestAShutdownDoesNotWaitForTheViewersOfTheLiveStream(t *testing.T) {
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL, extra: "shutdown_timeout: 1h\n"})
	req, _ := http.NewRequest(http.MethodGet, in.AdminURL+"/live", nil)
	req.Header.Set("Authorization", "Bearer test-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	in.signal(syscall.SIGTERM)
	select {
	case <-in.exited:
	case <-time.After(time.Minute): // bounds a hang: the shutdown would wait an hour
		t.Fatal("cachegate did not exit on SIGTERM while a viewer watched")
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Logf("the stream ended with %v", err)
	}
}
