package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/internal/testutil"
	"github.com/cachegate/cachegate/store/redistest"
)

// This file is the harness for Redis faults (a redis-server per test, a
// command runner, signals to instances, a background load that counts
// what it gets) and the tests that no acknowledged purge is undone by one.

// on points the setup at srv instead of the package's redis-server (the
// cluster field holds any list of seed addresses; one is a single node).
func (s setup) on(srv *redistest.Server) setup {
	s.cluster = []string{srv.Addr()}
	return s
}

// redisDo runs one command on srv and fails the test on an error.
func redisDo(t *testing.T, srv *redistest.Server, args ...any) any {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer c.Close()
	v, err := c.Do(context.Background(), args...).Result()
	if err != nil && err != redis.Nil {
		t.Fatalf("redis %v: %v", args, err)
	}
	return v
}

// signal sends sig to the instance's process; for SIGSTOP it returns
// once every thread of the process is stopped (the signal is delivered
// asynchronously, and a request sent meanwhile could still be served).
func (in *instance) signal(sig syscall.Signal) {
	in.t.Helper()
	if err := in.cmd.Process.Signal(sig); err != nil {
		in.t.Fatal(err)
	}
	if sig != syscall.SIGSTOP {
		return
	}
	testutil.Eventually(in.t, 5*time.Second, "the process stops on SIGSTOP", in.stopped)
}

// stopped says whether every thread of the process is in state T
// (stopped), from /proc/PID/task/*/stat.
func (in *instance) stopped() bool {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", in.cmd.Process.Pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(task)
		if err != nil {
			return false
		}
		// The state follows the command name in parentheses.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 || i+2 >= len(stat) || stat[i+2] != 'T' {
			return false
		}
	}
	return true
}

func (in *instance) readyz() string {
	in.t.Helper()
	_, body := in.admin(http.MethodGet, "/readyz")
	return body
}

// waitReadyz polls /readyz until cond holds for its body.
func (in *instance) waitReadyz(what string, cond func(string) bool) {
	in.t.Helper()
	testutil.Until(in.t, 20*time.Second, what, func() error {
		if body := in.readyz(); !cond(body) {
			return fmt.Errorf("/readyz says %q", body)
		}
		return nil
	})
}

func isReady(body string) bool { return strings.HasPrefix(body, "ready\n") }

// stored requests path twice from each instance (the second read is the
// one an L1 admits) and returns the body they all serve.
func stored(t *testing.T, path string, ins ...*instance) string {
	t.Helper()
	_, body := ins[0].get(path)
	for _, in := range ins {
		in.get(path)
		if _, got := in.get(path); got != body {
			t.Fatalf("instance %s does not serve the stored body of %s before the fault", in.URL, path)
		}
	}
	return body
}

// storedAgain is stored once the store takes entries again after a fault
// (its circuit breaker closes after a probe): it retries for up to 15s.
func storedAgain(t *testing.T, path string, ins ...*instance) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r0, body := ins[0].get(path)
		same := true
		var statuses []string
		for _, in := range ins {
			in.get(path)
			resp, got := in.get(path)
			statuses = append(statuses, resp.Header.Get("Cache-Status"))
			if got != body {
				same = false
			}
		}
		if same {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("15s after the fault the instances still do not serve a stored %s (Cache-Status %q, then %q)", path, r0.Header.Get("Cache-Status"), statuses)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// purgeOK purges body through in, retrying while the instance answers
// 503 (Redis not back yet), and returns the answer and how long it took.
func purgeOK(t *testing.T, in *instance, body string) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		resp, answer := in.purge(body)
		if resp.StatusCode == http.StatusOK {
			return answer, time.Since(start)
		}
		if resp.StatusCode != http.StatusServiceUnavailable || time.Since(start) > 15*time.Second {
			t.Fatalf("POST /purge %s: %d %s", body, resp.StatusCode, answer)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertNotServed fails when an instance serves old for path.
func assertNotServed(t *testing.T, when, path, old string, ins ...*instance) {
	t.Helper()
	for _, in := range ins {
		if resp, body := in.get(path); body == old {
			t.Errorf("%s: instance %s served the purged body (Cache-Status %q)", when, in.URL, resp.Header.Get("Cache-Status"))
		}
	}
}

// startLoaded starts two instances of s and waits until both hold the
// purge marks (their /readyz says ready).
func startLoaded(t *testing.T, s setup) []*instance {
	t.Helper()
	ins := []*instance{startInstance(t, s), startInstance(t, s)}
	for _, in := range ins {
		in.waitReadyz("marks loaded", isReady)
	}
	return ins
}

// startLoadedOnOwnRedis starts an origin, a redis-server of the test's
// own and two instances with backend on it (startLoaded).
func startLoadedOnOwnRedis(t *testing.T, backend string) (*redistest.Server, []*instance) {
	t.Helper()
	srv := testutil.OwnRedis(t)
	s := setup{origin: startOrigin(t).URL, backend: backend, prefix: testutil.UniquePrefix(t)}.on(srv)
	return srv, startLoaded(t, s)
}

// startFaultLoad sends GETs of 20 paths under prefix to the instances
// from 4 clients (the load of store_faults_test.go) until endFaultLoad.
func startFaultLoad(ins []*instance, prefix string) *load {
	paths := make([]string, 20)
	for i := range paths {
		paths[i] = fmt.Sprintf("/max-age/60/%s/%d", prefix, i)
	}
	return startLoad(ins, paths, 4, 0)
}

// endFaultLoad stops l and logs what it got during fault.
func endFaultLoad(t *testing.T, l *load, fault string) {
	t.Helper()
	l.end()
	t.Logf("during %s: %s", fault, l.counts())
}

func TestANewInstanceServesNoPurgedEntryAfterAllkeysLRUEvictedThePurgeState(t *testing.T) {
	t.Parallel() // its own redis-server or prefix; mostly waiting on faults
	srv := testutil.OwnRedis(t)
	o := startOrigin(t)
	prefix := testutil.UniquePrefix(t)
	s := setup{origin: o.URL, backend: "redis", prefix: prefix}.on(srv)
	redisDo(t, srv, "CONFIG", "SET", "maxmemory", "4mb")
	redisDo(t, srv, "CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
	a := startInstance(t, s)
	a.waitReadyz("the purge state loaded", func(b string) bool { return strings.Contains(b, "allkeys-lru") && !strings.Contains(b, "not loaded") })
	if body := a.readyz(); !strings.Contains(body, "can evict the purge state") {
		t.Errorf("/readyz under allkeys-lru = %q, want it to say the purge state can be evicted", body)
	}
	const path = "/max-age/600/evicted"
	old := stored(t, path, a)
	purgeOK(t, a, `{"urls":["http://site.test/max-age/600/evicted"]}`)
	a.stop()
	// Redis's LRU clock counts idle time in seconds: let the purge keys
	// age, so that they are evicted before the entries touched below.
	time.Sleep(2 * time.Second)

	// Fill Redis until every purge key is evicted, keeping the entries
	// recently used (they are read, the purge keys are not).
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer c.Close()
	ctx := context.Background()
	entries, err := c.Keys(ctx, prefix+":e:*").Result()
	if err != nil || len(entries) == 0 {
		t.Fatalf("no stored entry under %s: %v", prefix, err)
	}
	// A copy of each entry, put back should the approximated LRU evict
	// it too: the test is of an entry that outlived the purge state.
	dumps := map[string]string{}
	for _, k := range entries {
		if dumps[k], err = c.Dump(ctx, k).Result(); err != nil {
			t.Fatal(err)
		}
	}
	purgeKeys := "{" + prefix + "}:purge:*"
	value := strings.Repeat("x", 8<<10)
	for i := 0; ; i++ {
		if left, _ := c.Keys(ctx, purgeKeys).Result(); len(left) == 0 {
			t.Logf("purge keys evicted after %d fills of 8 KiB", i*5)
			break
		}
		if i == 4000 {
			t.Fatal("the purge keys were never all evicted")
		}
		// Touched before the writes that evict: Redis's eviction pool
		// keeps the idle time a key had when it was sampled.
		pipe := c.Pipeline()
		pipe.Touch(ctx, entries...)
		for j := range 5 {
			pipe.Set(ctx, fmt.Sprintf("fill:%d:%d", i, j), value, 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for k, dump := range dumps {
		if n, _ := c.Exists(ctx, k).Result(); n == 0 {
			c.Del(ctx, "fill:0:0", "fill:0:1", "fill:0:2") // room for it
			if err := c.Restore(ctx, k, time.Hour, dump).Err(); err != nil {
				t.Fatalf("putting back the evicted entry: %v", err)
			}
		}
	}
	if left, _ := c.Keys(ctx, purgeKeys).Result(); len(left) != 0 {
		t.Fatalf("purge keys %v came back", left)
	}
	b := startInstance(t, s)
	assertNotServed(t, "a new instance after the purge state was evicted", path, old, b)
}

func TestAPurgeAfterFLUSHALLIsHonouredByEveryInstance(t *testing.T) {
	t.Parallel() // its own redis-server or prefix; mostly waiting on faults
	for _, backend := range []string{"redis", "tiered"} {
		t.Run(backend, func(t *testing.T) {
			srv, ins := startLoadedOnOwnRedis(t, backend)
			// A few purges first, so that the sequence is well above 1.
			for range 3 {
				purgeOK(t, ins[0], `{"tags":["other"]}`)
			}
			const path = "/max-age/600/flushed"
			const body = `{"urls":["http://site.test/max-age/600/flushed"]}`
			old := stored(t, path, ins...)
			l := startFaultLoad(ins, "flush-load")
			redisDo(t, srv, "FLUSHALL")
			answer, took := purgeOK(t, ins[1], body)
			endFaultLoad(t, l, "FLUSHALL and the first purge after it")
			t.Logf("first purge after FLUSHALL honoured by every instance %v after it: %s", took.Round(time.Millisecond), answer)
			assertNotServed(t, "the first purge after FLUSHALL", path, old, ins...)
			// Entries stored after the flush are purged too.
			for round := range 3 {
				old = stored(t, path, ins...)
				answer, _ := purgeOK(t, ins[round%2], body)
				assertNotServed(t, fmt.Sprintf("purge %d after FLUSHALL (%s)", round, answer), path, old, ins...)
			}
		})
	}
}

func TestAPurgeAfterRedisIsKilledAndRestartsEmptyIsHonouredByEveryTieredInstance(t *testing.T) {
	t.Parallel() // its own redis-server or prefix; mostly waiting on faults
	srv, ins := startLoadedOnOwnRedis(t, "tiered")
	purgeOK(t, ins[0], `{"tags":["other"]}`)
	const path = "/max-age/600/killed"
	const body = `{"urls":["http://site.test/max-age/600/killed"]}`
	old := stored(t, path, ins...)
	l := startFaultLoad(ins, "kill-load")
	srv.Stop() // kill -9
	time.Sleep(time.Second)
	if err := srv.Restart(); err != nil { // empty: no persistence
		t.Fatal(err)
	}
	answer, took := purgeOK(t, ins[0], body)
	endFaultLoad(t, l, "kill -9 of Redis, 1s down, restart empty")
	t.Logf("first purge after the restart honoured by every instance %v after it: %s", took.Round(time.Millisecond), answer)
	assertNotServed(t, "the first purge after Redis restarted empty", path, old, ins...)
	old = storedAgain(t, path, ins...)
	purgeOK(t, ins[1], body)
	assertNotServed(t, "a second purge after Redis restarted empty", path, old, ins...)
}

func TestARestartedInstanceNeverServesAPurgedEntryFirst(t *testing.T) {
	t.Parallel() // its own redis-server or prefix; mostly waiting on faults
	o := startOrigin(t)
	s := setup{origin: o.URL, backend: "redis", prefix: testutil.UniquePrefix(t)}
	a, b := startInstance(t, s), startInstance(t, s)
	for round := range 5 {
		path := fmt.Sprintf("/max-age/600/restart-%d", round)
		// Marks the new instance must load: the more, the longer it takes.
		purgeOK(t, b, fmt.Sprintf(`{"tags":["other-%d"],"urls":["http://site.test/x/%d"]}`, round, round))
		old := stored(t, path, a, b)
		a.stop()
		purgeOK(t, b, fmt.Sprintf(`{"urls":["http://site.test%s"]}`, path))
		a.startAgain()
		assertNotServed(t, fmt.Sprintf("round %d: the first request after start", round), path, old, a)
	}
}

func TestAPausedTieredInstanceIsNamedLaggingAndServesNoPurgedL1EntryAfterward(t *testing.T) {
	t.Parallel() // its own redis-server or prefix; mostly waiting on faults
	o := startOrigin(t)
	s := setup{origin: o.URL, backend: "tiered", prefix: testutil.UniquePrefix(t)}
	ins := startLoaded(t, s)
	a, b := ins[0], ins[1]
	const path = "/max-age/600/paused"
	old := stored(t, path, a, b)
	a.signal(syscall.SIGSTOP)
	stopped := time.Now()
	// A request that reaches the stopped instance waits in its queue.
	queued := make(chan string, 1)
	var answeredAt atomic.Int64
	go func() {
		defer func() { answeredAt.Store(time.Now().UnixNano()) }()
		req, _ := http.NewRequest(http.MethodGet, a.URL+path, nil)
		req.Host = siteHost
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			queued <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		queued <- readAll(resp)
	}()
	answer, _ := purgeOK(t, b, `{"urls":["http://site.test/max-age/600/paused"]}`)
	if !strings.Contains(answer, fmt.Sprintf("/%d/", a.cmd.Process.Pid)) {
		t.Errorf("the purge answered %s without naming the stopped instance (pid %d) as lagging", answer, a.cmd.Process.Pid)
	}
	time.Sleep(3*time.Second - time.Since(stopped))
	contAt := time.Now()
	a.signal(syscall.SIGCONT)
	if got := <-queued; got == old {
		t.Errorf("the request queued while the instance was stopped got the purged L1 entry (answered %v after SIGCONT)", time.Duration(answeredAt.Load()-contAt.UnixNano()))
	} else if strings.HasPrefix(got, "error") {
		t.Errorf("the request queued while the instance was stopped: %s", got)
	}
	assertNotServed(t, "after SIGCONT", path, old, a)
}

func TestARefusedInvalidationIsAppliedHereShownInReadyzAndWrittenOnceRedisHasRoom(t *testing.T) {
	t.Parallel() // its own redis-server or prefix; mostly waiting on faults
	srv, ins := startLoadedOnOwnRedis(t, "redis")
	a, b := ins[0], ins[1]
	const path = "/max-age/600/posted"
	old := stored(t, path, a, b)
	redisDo(t, srv, "CONFIG", "SET", "maxmemory-policy", "noeviction")
	redisDo(t, srv, "CONFIG", "SET", "maxmemory", "1")
	full := time.Now()
	if resp, _ := a.do(http.MethodPost, path, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	if body := a.readyz(); !strings.Contains(body, "pending") {
		t.Errorf("/readyz after a refused invalidation = %q, want it to say one is pending", body)
	}
	assertNotServed(t, "after the POST whose invalidation Redis refused", path, old, a)
	if got := a.metric("cachegate_purge_invalidations_pending"); got != "1" {
		t.Errorf("cachegate_purge_invalidations_pending = %q, want 1", got)
	}
	redisDo(t, srv, "CONFIG", "SET", "maxmemory", "0")
	room := time.Now()
	a.waitReadyz("the invalidation written", func(body string) bool { return !strings.Contains(body, "pending") })
	t.Logf("Redis full for %v; the refused invalidation written %v after Redis had room",
		room.Sub(full).Round(time.Millisecond), time.Since(room).Round(time.Millisecond))
	assertNotServed(t, "on the other instance once the invalidation is written", path, old, b)
	if got := a.metric("cachegate_purge_invalidations_refused_total"); got == "" || got == "0" {
		t.Errorf("cachegate_purge_invalidations_refused_total = %q, want the refusal counted", got)
	}
	if got := a.metric("cachegate_purge_invalidations_pending"); got != "0" {
		t.Errorf("cachegate_purge_invalidations_pending = %q after the write, want 0", got)
	}
}

// waitLink waits until the replica's link to its master is status.
func waitLink(t *testing.T, replica *redistest.Server, status string) {
	t.Helper()
	testutil.Until(t, 15*time.Second, "the replica's link goes "+status, func() error {
		if info, _ := redisDo(t, replica, "INFO", "replication").(string); !strings.Contains(info, "master_link_status:"+status) {
			return fmt.Errorf("INFO replication:\n%s", info)
		}
		return nil
	})
}

func TestAPurgeTheNewMasterMissedIsNotUndoneBySentinelFailover(t *testing.T) {
	t.Parallel() // its own redis-server or prefix; mostly waiting on faults
	sent, err := redistest.StartSentinel()
	if err != nil {
		t.Fatal(err)
	}
	defer sent.Close()
	o := startOrigin(t)
	// The extra YAML continues the store.redis mapping of the harness.
	s := setup{origin: o.URL, backend: "redis", prefix: testutil.UniquePrefix(t), cluster: []string{sent.Addr()},
		extra: "    master_name: " + redistest.MasterName + "\n"}
	ins := startLoaded(t, s)
	// The replica's first sync (StartSentinel sets no diskless-sync delay).
	waitLink(t, sent.Replica, "up")
	const path = "/max-age/600/failover"
	old := stored(t, path, ins...)
	if n := redisDo(t, sent.Master, "WAIT", 1, 5000); n != int64(1) {
		t.Fatalf("WAIT: %v replicas acknowledged the entry, want 1", n)
	}

	// The replica stops replicating: it cannot authenticate to the master.
	redisDo(t, sent.Replica, "CONFIG", "SET", "masterauth", "wrong")
	redisDo(t, sent.Replica, "CLIENT", "KILL", "TYPE", "master")
	waitLink(t, sent.Replica, "down")
	answer, _ := purgeOK(t, ins[0], `{"urls":["http://site.test/max-age/600/failover"]}`)
	assertNotServed(t, "after the purge, before the failover", path, old, ins...)

	l := startFaultLoad(ins, "failover-load")
	sent.Master.Stop() // the acknowledged purge dies with it
	failed := time.Now()
	testutil.Eventually(t, 30*time.Second, "Sentinel promotes the replica", func() bool {
		addr, err := sent.MasterAddr()
		return err == nil && addr == sent.Replica.Addr()
	})
	promoted := time.Since(failed)
	// Once the instances write through the new master (the purged entry is
	// not requested meanwhile: a refill would replace it).
	_, took := purgeOK(t, ins[1], `{"tags":["other"]}`)
	endFaultLoad(t, l, "a Sentinel failover to a replica that missed the last purge")
	t.Logf("purge %s; replica promoted %v after the master died; a purge honoured by every instance %v after that",
		strings.TrimSpace(answer), promoted.Round(time.Millisecond), took.Round(time.Millisecond))
	// An instance started now loads the new master's state, in which the
	// running instances noticed the loss; then the running ones.
	assertNotServed(t, "a new instance after the failover", path, old, startInstance(t, s))
	assertNotServed(t, "after the failover to a replica that missed the purge", path, old, ins...)
}

func TestAnInvalidationThatTimesOutUnderCLIENTPAUSEIsAppliedHereAndWrittenAfter(t *testing.T) {
	t.Parallel() // its own redis-server or prefix; mostly waiting on faults
	srv, ins := startLoadedOnOwnRedis(t, "redis")
	a, b := ins[0], ins[1]
	const path = "/max-age/600/paused-writes"
	old := stored(t, path, a, b)
	redisDo(t, srv, "CLIENT", "PAUSE", 3000, "WRITE")
	paused := time.Now()
	if resp, _ := a.do(http.MethodPost, path, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	if time.Since(paused) < 3*time.Second {
		// The invalidation timed out (read_timeout) while writes were paused.
		assertNotServed(t, "after the POST whose invalidation timed out", path, old, a)
	}
	a.waitReadyz("the invalidation written", func(body string) bool { return !strings.Contains(body, "pending") })
	t.Logf("writes paused 3s; the invalidation written everywhere %v after the pause began", time.Since(paused).Round(time.Millisecond))
	testutil.Eventually(t, 10*time.Second, "the other instance stops serving the invalidated entry", func() bool {
		_, body := b.get(path)
		return body != old
	})
}
