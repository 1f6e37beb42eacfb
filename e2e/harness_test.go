// Package e2e runs the real cachegate binary before a test origin and a real
// redis-server, several instances where behaviour crosses instances.
package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachegate/cachegate/demo"
	"github.com/cachegate/cachegate/internal/testutil"
)

// binary is the cachegate binary built once for the package.
var binary string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "cachegate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "cachegate")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
		skipRaceExitSleep()
	}
	build := exec.Command("go", append(args, "github.com/cachegate/cachegate")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building cachegate:", err)
		return 1
	}
	// The package's one redis-server (testutil.Redis); tests keep apart by
	// key prefix.
	return testutil.RunWithRedis(m)
}

// skipRaceExitSleep makes the processes this package starts (cachegate
// built with -race, which inherits the environment) exit at once: the race
// runtime otherwise sleeps GORACE's atexit_sleep_ms (1s by default) at
// every exit, which made each instance stop and each CLI command take a
// second more. Races are reported when they happen, not at exit, and stop
// fails the test on any report (raceReported). An atexit_sleep_ms already
// in GORACE comes later and wins.
func skipRaceExitSleep() {
	os.Setenv("GORACE", strings.TrimSpace("atexit_sleep_ms=0 "+os.Getenv("GORACE")))
}

// origin is a demo origin on a loopback port, counting requests per path.
type origin struct {
	*demo.Origin
	URL string
}

func startOrigin(t *testing.T) *origin {
	t.Helper()
	o := demo.New()
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	return &origin{Origin: o, URL: srv.URL}
}

// setup is what an instance's config says beyond the defaults.
type setup struct {
	origin  string
	backend string // memory, redis or tiered
	prefix  string // redis key prefix, one per test
	extra   string // more YAML, appended as is
	// cluster, when set, are the seeds of a Redis Cluster to use instead of
	// the package's redis-server.
	cluster []string
}

func (s setup) yaml(listen, admin string) string {
	backend := s.backend
	if backend == "" {
		backend = "memory"
	}
	addrs := fmt.Sprintf("[%q]", testutil.Redis().Addr())
	if len(s.cluster) > 0 {
		addrs = `["` + strings.Join(s.cluster, `", "`) + `"]`
	}
	return fmt.Sprintf(`listen: %q
origin: %q
admin:
  listen: %q
  token: test-token
log:
  level: debug
store:
  backend: %s
  redis:
    addrs: %s
    key_prefix: %q
%s`, listen, s.origin, admin, backend, addrs, s.prefix, s.extra)
}

// instance is one running cachegate process.
type instance struct {
	t *testing.T
	// binary, when set, replaces the package's binary.
	binary   string
	cfgPath  string
	URL      string
	AdminURL string
	cmd      *exec.Cmd
	log      *testutil.Buffer
	exited   chan struct{}
	// config writes the instance's config for the two addresses.
	config func(listen, admin string)
}

// startInstance writes a config for s and starts cachegate with it, waiting
// until its admin listener answers.
func startInstance(t *testing.T, s setup) *instance {
	t.Helper()
	return startInstanceOf(t, "", s)
}

// startInstanceOf is startInstance with another cachegate binary ("" for
// the package's).
func startInstanceOf(t *testing.T, bin string, s setup) *instance {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "cachegate.yaml")
	in := &instance{t: t, cfgPath: cfgPath, binary: bin}
	in.config = func(listen, admin string) {
		if err := os.WriteFile(cfgPath, []byte(s.yaml(listen, admin)), 0o600); err != nil {
			t.Fatal(err)
		}
		in.URL, in.AdminURL = "http://"+listen, "http://"+admin
	}
	in.startOnFreePorts(1)
	t.Cleanup(in.stop)
	return in
}

// startOnFreePorts starts the instance on ports found free. A port found
// free can be taken (by a client's ephemeral port, or by another test's
// instance) before cachegate binds it: then it tries other ports, from
// attempt on.
func (in *instance) startOnFreePorts(attempt int) {
	in.t.Helper()
	for ; ; attempt++ {
		in.config(freeAddr(in.t), freeAddr(in.t))
		if in.start(attempt < 3) {
			return
		}
	}
}

// startAgain starts a stopped instance on its ports, or, when another
// process took one of them meanwhile, on new ones (its URL and AdminURL
// change then).
func (in *instance) startAgain() {
	in.t.Helper()
	if !in.start(true) {
		in.startOnFreePorts(2)
	}
}

// start runs the process and waits until its admin listener answers. When
// retryBind is set and the process could not bind its addresses, it
// returns false instead of failing the test.
func (in *instance) start(retryBind bool) bool {
	in.t.Helper()
	in.log = &testutil.Buffer{}
	bin := binary
	if in.binary != "" {
		bin = in.binary
	}
	in.cmd = exec.Command(bin, "-config", in.cfgPath)
	in.cmd.Stdout, in.cmd.Stderr = in.log, in.log
	in.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := in.cmd.Start(); err != nil {
		in.t.Fatal(err)
	}
	in.exited = make(chan struct{})
	go func() { in.cmd.Wait(); close(in.exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		// The log says this process listens: the admin address answering
		// could be another's that took the port (a restart on the same
		// ports).
		resp, err := http.Get(in.AdminURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if strings.Contains(in.log.String(), "cachegate listening") {
				return true
			}
		}
		select {
		case <-in.exited:
			if retryBind && strings.Contains(in.log.String(), "address already in use") {
				return false
			}
			in.t.Fatalf("cachegate exited at start:\n%s", in.log.String())
		default:
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("cachegate did not answer on %s: %v\n%s", in.AdminURL, err, in.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// terminate sends cmd SIGTERM and waits until exited is closed; after 15 s
// it kills the process.
func terminate(cmd *exec.Cmd, exited <-chan struct{}) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

// stop sends SIGTERM and waits for the process to end.
func (in *instance) stop() {
	if in.cmd == nil || in.cmd.Process == nil {
		return
	}
	terminate(in.cmd, in.exited)
	if raceReported(in.log.String()) {
		in.t.Errorf("cachegate (%s) reported a data race", in.URL)
	}
	if in.t.Failed() {
		in.t.Logf("cachegate log (%s):\n%s", in.URL, in.log.String())
	}
	in.cmd = nil
}

// raceReported says whether a process's output holds a race detector's
// report (a binary built with -race prints it and goes on).
func raceReported(output string) bool {
	return strings.Contains(output, "WARNING: DATA RACE")
}

// restart stops the process and starts it again with the same config
// (startAgain).
func (in *instance) restart() {
	in.t.Helper()
	in.stop()
	in.startAgain()
}

// get sends a GET (or another method) and returns the response with its
// body read.
func (in *instance) do(method, path string, header http.Header) (*http.Response, string) {
	in.t.Helper()
	req, err := http.NewRequest(method, in.URL+path, nil)
	if err != nil {
		in.t.Fatal(err)
	}
	// Instances listen on different ports; behind a load balancer they
	// see one host, as here.
	req.Host = siteHost
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		in.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, string(body)
}

func (in *instance) get(path string) (*http.Response, string) {
	in.t.Helper()
	return in.do(http.MethodGet, path, nil)
}

// siteHost is the Host of every request the tests send.
const siteHost = "site.test"

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
