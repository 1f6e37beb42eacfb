package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/internal/testutil"
)

// warnLines counts the WARN and ERROR lines the instance wrote after
// offset bytes of its log.
func (in *instance) warnLines(offset int) int {
	n := 0
	for _, l := range strings.Split(in.log.String()[offset:], "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			n++
		}
	}
	return n
}

// loadCounts are what a load saw, per instance.
type loadCounts struct {
	total, failed, hits, redisDown []int64
}

func (c loadCounts) sum(v []int64) int64 {
	var n int64
	for _, x := range v {
		n += x
	}
	return n
}

// minus returns c less an earlier snapshot.
func (c loadCounts) minus(d loadCounts) loadCounts {
	sub := func(a, b []int64) []int64 {
		out := make([]int64, len(a))
		for i := range a {
			out[i] = a[i] - b[i]
		}
		return out
	}
	return loadCounts{sub(c.total, d.total), sub(c.failed, d.failed), sub(c.hits, d.hits), sub(c.redisDown, d.redisDown)}
}

func (c loadCounts) String() string {
	return fmt.Sprintf("%d requests, %d failed (transport error or 5xx), %d hits, %d of them detail=redis-down",
		c.sum(c.total), c.sum(c.failed), c.sum(c.hits), c.sum(c.redisDown))
}

// load sends GETs of paths round robin to instances from a few workers
// until end, counting per instance.
type load struct {
	stop                          atomic.Bool
	wg                            sync.WaitGroup
	total, failed, hits, redisDwn []atomic.Int64
	slowestNs                     atomic.Int64
	// lastFailure is the last failed request, for the failure message.
	lastFailure atomic.Value
}

func startLoad(ins []*instance, paths []string, workers int, pause time.Duration) *load {
	l := &load{
		total: make([]atomic.Int64, len(ins)), failed: make([]atomic.Int64, len(ins)),
		hits: make([]atomic.Int64, len(ins)), redisDwn: make([]atomic.Int64, len(ins)),
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := w; !l.stop.Load(); i++ {
				n := i % len(ins)
				req, _ := http.NewRequest(http.MethodGet, ins[n].URL+paths[i%len(paths)], nil)
				req.Host = siteHost
				start := time.Now()
				resp, err := client.Do(req)
				l.note(time.Since(start))
				l.total[n].Add(1)
				if err != nil || resp.StatusCode >= 500 {
					l.failed[n].Add(1)
					l.lastFailure.Store(fmt.Sprint(paths[i%len(paths)], ": ", err, " ", resp))
				}
				if err == nil {
					cs := resp.Header.Get("Cache-Status")
					if strings.Contains(cs, "; hit") {
						l.hits[n].Add(1)
					}
					if strings.Contains(cs, "detail=redis-down") {
						l.redisDwn[n].Add(1)
					}
					readAll(resp)
					resp.Body.Close()
				}
				if pause > 0 {
					time.Sleep(pause)
				}
			}
		}()
	}
	return l
}

func (l *load) counts() loadCounts {
	c := loadCounts{}
	for i := range l.total {
		c.total = append(c.total, l.total[i].Load())
		c.failed = append(c.failed, l.failed[i].Load())
		c.hits = append(c.hits, l.hits[i].Load())
		c.redisDown = append(c.redisDown, l.redisDwn[i].Load())
	}
	return c
}

// note keeps the slowest request's duration.
func (l *load) note(d time.Duration) {
	for {
		cur := l.slowestNs.Load()
		if int64(d) <= cur || l.slowestNs.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// slowest is the slowest request so far (its headers; bodies are small).
func (l *load) slowest() time.Duration {
	return time.Duration(l.slowestNs.Load()).Round(time.Millisecond)
}

func (l *load) end() {
	l.stop.Store(true)
	l.wg.Wait()
}

// cachedPaths returns n paths, each stored and then served from L1 by
// every instance (requested until a hit on each).
func cachedPaths(t *testing.T, ins []*instance, name string, n int) []string {
	t.Helper()
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("/max-age/600/%s/%d", name, i)
		for _, in := range ins {
			testutil.Eventually(t, 5*time.Second, "a hit on "+paths[i], func() bool {
				resp, _ := in.get(paths[i])
				return strings.Contains(resp.Header.Get("Cache-Status"), "; hit")
			})
		}
	}
	return paths
}

// resumed reports whether what instance a stores now reaches instance b
// through Redis: a new path filled on a is a hit on b.
func resumed(a, b *instance) func() bool {
	var i atomic.Int64
	return func() bool {
		path := fmt.Sprintf("/max-age/600/resumed-%d-%d", time.Now().UnixNano(), i.Add(1))
		a.get(path)
		resp, _ := b.get(path)
		return strings.Contains(resp.Header.Get("Cache-Status"), "; hit")
	}
}

func TestTieredL1ServesThroughARedisKillForTheBoundThenTheOriginThenRecovers(t *testing.T) {
	t.Parallel() // its own redis-server or prefix; mostly waiting on faults
	srv := testutil.OwnRedis(t)
	o := startOrigin(t)
	s := setup{origin: o.URL, backend: "tiered", prefix: testutil.UniquePrefix(t),
		extra: "  tiered:\n    l1_when_redis_down: 3s\n"}.on(srv)
	ins := []*instance{startInstance(t, s), startInstance(t, s)}
	for _, in := range ins {
		in.waitReadyz("ready", isReady)
	}
	paths := cachedPaths(t, ins, "kill", 16)
	l := startLoad(ins, paths, 4, 0)
	defer l.end()
	testutil.Eventually(t, 10*time.Second, "load started", func() bool { return l.counts().sum(l.counts().hits) > 100 })

	before := l.counts()
	offsets := []int{len(ins[0].log.String()), len(ins[1].log.String())}
	killed := time.Now()
	srv.Stop() // SIGKILL
	testutil.Eventually(t, 10*time.Second, "L1 hits with detail=redis-down on both instances", func() bool {
		c := l.counts().minus(before)
		return c.redisDown[0] > 0 && c.redisDown[1] > 0
	})
	// Once the bound has passed, L1 is no longer trusted: every cached path
	// goes to the origin on each instance.
	testutil.Eventually(t, 15*time.Second, "every cached path answered by the origin after the bound", func() bool {
		for _, in := range ins {
			for _, path := range paths {
				resp, body := in.get(path)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s, Redis down: %d %q, want 200", path, resp.StatusCode, body)
				}
				if strings.Contains(resp.Header.Get("Cache-Status"), "; hit") {
					return false
				}
			}
		}
		return true
	})
	outage := l.counts().minus(before)
	afterBound := l.counts()
	// Measure the origin-only phase for a second more.
	time.Sleep(time.Second)
	beforeRestart := l.counts()
	downFor := time.Since(killed)
	lines := []int{ins[0].warnLines(offsets[0]), ins[1].warnLines(offsets[1])}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	for _, in := range ins {
		in.waitReadyz("ready", isReady)
	}
	testutil.Eventually(t, 20*time.Second, "an entry stored by one instance served by the other", resumed(ins[0], ins[1]))
	recovery := time.Since(restarted)
	l.end()
	pastBound := beforeRestart.minus(afterBound)
	restart := l.counts().minus(beforeRestart)
	total := l.counts().minus(before)

	t.Logf("Redis killed (SIGKILL) for %v under 4 clients, 2 tiered instances, bound 3s:", downFor.Round(time.Millisecond))
	t.Logf("  kill until L1 stopped serving: %v", outage)
	t.Logf("  after the bound, Redis still down: %v", pastBound)
	t.Logf("  restart until an entry stored by one instance is a hit on the other (%v): %v", recovery.Round(time.Millisecond), restart)
	t.Logf("  whole fault: %v; slowest request %v", total, l.slowest())
	t.Logf("  WARN/ERROR log lines while Redis was down: %v (of %d requests)", lines, outage.sum(outage.total)+pastBound.sum(pastBound.total))
	if total.sum(total.failed) != 0 {
		t.Errorf("%d requests failed or got a 5xx during the fault (last: %v)", total.sum(total.failed), l.lastFailure.Load())
	}
	for i, n := range lines {
		if n > 30 {
			t.Errorf("instance %d wrote %d WARN/ERROR lines while Redis was down, want a bounded few (one per kind per 10s):\n%s", i, n, ins[i].log.String()[offsets[i]:])
		}
	}
}

func TestRedisStallsCauseNo5xxFewLogLinesAndServiceResumes(t *testing.T) {
	t.Parallel() // its own redis-server or prefix; mostly waiting on faults
	srv := testutil.OwnRedis(t, "--enable-debug-command", "local")
	o := startOrigin(t)
	prefix := testutil.UniquePrefix(t)
	tiered := startInstance(t, setup{origin: o.URL, backend: "tiered", prefix: prefix}.on(srv))
	plain := startInstance(t, setup{origin: o.URL, backend: "redis", prefix: prefix}.on(srv))
	ins := []*instance{tiered, plain}
	for _, in := range ins {
		in.waitReadyz("ready", isReady)
	}
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr(), ReadTimeout: 10 * time.Second})
	defer admin.Close()
	cached := cachedPaths(t, ins, "stall", 8)
	for _, fault := range []struct {
		name string
		run  func() error
	}{
		{"DEBUG SLEEP 3", func() error { return admin.Do(context.Background(), "DEBUG", "SLEEP", "3").Err() }},
		{"CLIENT PAUSE 3000 WRITE", func() error {
			if err := admin.Do(context.Background(), "CLIENT", "PAUSE", "3000", "WRITE").Err(); err != nil {
				return err
			}
			// A write returns once the pause is over.
			return admin.Set(context.Background(), prefix+":pause-over", "1", time.Minute).Err()
		}},
	} {
		t.Run(fault.name, func(t *testing.T) {
			var paths []string
			for i, c := range cached {
				// Stored paths, each followed by one no instance has
				// stored: a fill during the stall.
				paths = append(paths, c, fmt.Sprintf("/max-age/600/stall-new/%s/%d", strings.Fields(fault.name)[0], i))
			}
			l := startLoad(ins, paths, 2, 2*time.Millisecond)
			defer l.end()
			testutil.Eventually(t, 10*time.Second, "load started", func() bool { return l.counts().sum(l.counts().total) > 20 })
			before := l.counts()
			offsets := []int{len(tiered.log.String()), len(plain.log.String())}
			start := time.Now()
			if err := fault.run(); err != nil {
				t.Fatalf("%s: %v", fault.name, err)
			}
			stalled := time.Since(start)
			during := l.counts().minus(before)
			testutil.Eventually(t, 20*time.Second, "an entry stored by one instance served by the other", resumed(tiered, plain))
			recovery := time.Since(start) - stalled
			l.end()
			total := l.counts().minus(before)
			lines := []int{tiered.warnLines(offsets[0]), plain.warnLines(offsets[1])}
			t.Logf("%s (%v), light load (2 clients), tiered and redis instances:", fault.name, stalled.Round(time.Millisecond))
			t.Logf("  during the stall: %v", during)
			t.Logf("  stall and recovery (%v to resume): %v; slowest request %v", recovery.Round(time.Millisecond), total, l.slowest())
			t.Logf("  WARN/ERROR log lines (tiered, redis): %v", lines)
			if total.sum(total.failed) != 0 {
				t.Errorf("%d requests failed or got a 5xx the origin did not send (last: %v)", total.sum(total.failed), l.lastFailure.Load())
			}
			for i, n := range lines {
				if n > 30 {
					t.Errorf("instance %d wrote %d WARN/ERROR lines, want a bounded few:\n%s", i, n, ins[i].log.String()[offsets[i]:])
				}
			}
		})
	}
}

// runStart runs cachegate with the config of s until it exits or answers
// on its admin listener, and returns its exit code (-1 while it runs,
// after which it is stopped) and its output.
func runStart(t *testing.T, s setup) (int, string) {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "cachegate.yaml")
	admin := freeAddr(t)
	if err := os.WriteFile(cfgPath, []byte(s.yaml(freeAddr(t), admin)), 0o600); err != nil {
		t.Fatal(err)
	}
	out := &testutil.Buffer{}
	cmd := exec.Command(binary, "-config", cfgPath)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case <-exited:
			return cmd.ProcessState.ExitCode(), out.String()
		case <-deadline:
			cmd.Process.Kill()
			<-exited
			t.Fatalf("cachegate neither exited nor answered within 20s:\n%s", out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if resp, err := http.Get("http://" + admin + "/healthz"); err == nil {
			resp.Body.Close()
			cmd.Process.Signal(syscall.SIGTERM)
			<-exited
			return -1, out.String()
		}
	}
}

func TestRedisRefusingTheConfigurationStopsTheStartNamingTheOption(t *testing.T) {
	t.Parallel() // its own redis-server or prefix; mostly waiting on faults
	srv := testutil.OwnRedis(t, "--requirepass", "secret", "--databases", "4")
	o := startOrigin(t)
	for _, tc := range []struct {
		name, extra, want string
	}{
		{"wrong password", "    password: wrong\n", "store.redis.password: Redis refused the password (WRONGPASS"},
		{"no password", "", "store.redis.password: Redis requires a password and got none (NOAUTH"},
		{"database out of range", "    password: secret\n    db: 9\n", "store.redis.db: Redis has no database 9 (ERR DB index is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runStart(t, setup{origin: o.URL, backend: "tiered", prefix: testutil.UniquePrefix(t), extra: tc.extra}.on(srv))
			if code <= 0 {
				t.Errorf("exit code %d, want the start to fail (> 0); output:\n%s", code, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output:\n%s\nwant it to say %q", out, tc.want)
			}
		})
	}
	code, out := runStart(t, setup{origin: o.URL, backend: "tiered", prefix: testutil.UniquePrefix(t), extra: "    password: secret\n"}.on(srv))
	if code != -1 {
		t.Errorf("with the right password: exit code %d, want it running; output:\n%s", code, out)
	}
}

func TestUnreachableRedisAtStartServesFromTheOriginAndRecovers(t *testing.T) {
	t.Parallel() // its own redis-server or prefix; mostly waiting on faults
	srv := testutil.OwnRedis(t)
	srv.Stop()
	o := startOrigin(t)
	s := setup{origin: o.URL, backend: "tiered", prefix: testutil.UniquePrefix(t)}.on(srv)
	a := startInstance(t, s)
	for i := range 3 {
		if resp, body := a.get("/max-age/600/unreachable"); resp.StatusCode != http.StatusOK {
			t.Errorf("request %d with Redis unreachable since start: %d %q, want 200 from the origin", i, resp.StatusCode, body)
		}
	}
	if !strings.Contains(a.log.String(), "Redis does not answer at start") {
		t.Errorf("the log does not say Redis did not answer at start:\n%s", a.log.String())
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	b := startInstance(t, s)
	a.waitReadyz("ready", isReady)
	testutil.Eventually(t, 20*time.Second, "an entry stored by the instance started without Redis served by another", resumed(a, b))
}

func TestPasswordChangedUnderARunningInstanceIsLoggedAndRequestsGoToTheOrigin(t *testing.T) {
	t.Parallel() // its own redis-server or prefix; mostly waiting on faults
	srv := testutil.OwnRedis(t, "--requirepass", "secret")
	o := startOrigin(t)
	in := startInstance(t, setup{origin: o.URL, backend: "tiered", prefix: testutil.UniquePrefix(t), extra: "    password: secret\n"}.on(srv))
	in.waitReadyz("ready", isReady)
	paths := cachedPaths(t, []*instance{in}, "password", 4)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: "secret"})
	defer admin.Close()
	ctx := context.Background()
	if err := admin.ConfigSet(ctx, "requirepass", "changed").Err(); err != nil {
		t.Fatal(err)
	}
	// Authenticated connections stay so: drop them all.
	if err := admin.Do(ctx, "CLIENT", "KILL", "TYPE", "normal").Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	offset := len(in.log.String())
	testutil.Eventually(t, 10*time.Second, "the log naming store.redis.password after WRONGPASS", func() bool {
		for _, path := range append(paths, "/max-age/600/password/new") {
			resp, body := in.get(path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s with Redis refusing the password: %d %q, want 200", path, resp.StatusCode, body)
			}
			// Redis answers, so others may purge: L1 is not served as if
			// Redis were down.
			if cs := resp.Header.Get("Cache-Status"); strings.Contains(cs, "redis-down") {
				t.Fatalf("%s with Redis refusing the password: Cache-Status %q, want no redis-down", path, cs)
			}
		}
		log := in.log.String()[offset:]
		return strings.Contains(log, "store.redis.password") && strings.Contains(log, "WRONGPASS")
	})
}
