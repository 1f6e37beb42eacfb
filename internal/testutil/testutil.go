// Package testutil holds what the tests of several packages need alike:
// the package's shared redis-server, key prefixes that keep tests apart in
// it, bounded polling instead of sleeps, a logger that writes nothing, and
// self-signed certificates on disk. Only tests import it.
package testutil

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// Eventually polls cond every 10ms until it holds, failing tb with what
// when it still does not after within. It is how a test waits for
// something another goroutine or process does: never a sleep on a
// constant.
func Eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runs numbers the prefixes UniquePrefix hands out.
var runs atomic.Int64

// UniquePrefix is a key prefix of tb's own: the test's name and a number,
// so that the runs of one test (-count) and its subtests stay apart in
// one Redis.
func UniquePrefix(tb testing.TB) string { return fmt.Sprintf("%s-%d", tb.Name(), runs.Add(1)) }

// DiscardLogger is a logger that writes nothing, for the code under test
// whose logging is not what the test looks at.
func DiscardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
