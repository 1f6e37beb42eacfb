package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/store/redistest"
)

func TestHitsCollapsingAndPurgesOnARedisCluster(t *testing.T) {
	t.Parallel() // its own redis-server or prefix; mostly waiting on faults
	cluster, err := redistest.StartCluster(3)
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	for _, backend := range []string{"redis", "tiered"} {
		t.Run(backend, func(t *testing.T) {
			o := startOrigin(t)
			prefix := testutil.UniquePrefix(t)
			var ins []*instance
			for range 3 {
				ins = append(ins, startInstance(t, setup{origin: o.URL, backend: backend, prefix: prefix, cluster: cluster.Addrs()}))
			}
			// Hits: what one instance stores, the others serve.
			_, body := ins[0].get("/max-age/600/cluster?tag=c")
			for _, in := range ins[1:] {
				if _, got := in.get("/max-age/600/cluster?tag=c"); got != body {
					t.Errorf("instance %s did not serve the stored entry from the cluster", in.URL)
				}
			}
			// Collapsing across instances.
			statuses, bodies := burst(t, ins, "/slow/200/cluster-cold", 150)
			checkBurstReachedTheOriginOnce(t, ins, o, "/slow/200/cluster-cold", statuses, bodies)
			// Purges.
			if resp, answer := ins[1].purge(`{"tags":["c"]}`); resp.StatusCode != 200 {
				t.Fatalf("purge: %d %s", resp.StatusCode, answer)
			}
			for _, in := range ins {
				if _, got := in.get("/max-age/600/cluster?tag=c"); got == body {
					t.Errorf("instance %s served purged content", in.URL)
				}
			}
		})
	}
}

// rss reads a process's resident set and its peak from /proc, in bytes.
func rss(t *testing.T, pid int) (now, peak int64) {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			now = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return now, peak
}

func TestProxyingOneGiBRaisesMemoryByLessThan64MiB(t *testing.T) {
	const size = 1 << 30
	chunk := make([]byte, 1<<20)
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		if r.URL.Path == "/small" {
			io.WriteString(w, "small")
			return
		}
		if r.URL.Path == "/sized" {
			w.Header().Set("Content-Length", strconv.Itoa(size))
		}
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer o.Close()
	// The race detector's shadow memory grows with every byte the process
	// touches: measure a binary built without it.
	in := startInstanceOf(t, plainBinary(t), setup{origin: o.URL})
	in.get("/small") // the process has served once before it is measured
	before, _ := rss(t, in.cmd.Process.Pid)
	for _, path := range []string{"/sized", "/chunked"} {
		req, _ := http.NewRequest(http.MethodGet, in.URL+path, nil)
		req.Host = siteHost
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != size {
			t.Fatalf("%s: %d bytes (%v), want 1 GiB", path, n, err)
		}
		assertCacheStatus(t, resp.Header.Get("Cache-Status"), "fwd=uri-miss")
	}
	_, peak := rss(t, in.cmd.Process.Pid)
	t.Logf("resident memory: %d MiB before, peak %d MiB after proxying 2 x 1 GiB", before>>20, peak>>20)
	if grew := peak - before; grew >= 64<<20 {
		t.Errorf("peak resident memory grew by %d MiB proxying 1 GiB, want less than 64 MiB", grew>>20)
	}
}

var (
	plainOnce sync.Once
	plainPath string
	plainErr  error
)

// plainBinary is cachegate built without the race detector (the package's
// binary when the tests do not run with -race).
func plainBinary(t *testing.T) string {
	t.Helper()
	if !raceEnabled {
		return binary
	}
	plainOnce.Do(func() {
		plainPath = filepath.Join(filepath.Dir(binary), "cachegate-norace")
		out, err := exec.Command("go", "build", "-o", plainPath, "github.com/cachegate/cachegate").CombinedOutput()
		if err != nil {
			plainErr = fmt.Errorf("building cachegate without -race: %v\n%s", err, out)
		}
	})
	if plainErr != nil {
		t.Fatal(plainErr)
	}
	return plainPath
}
