// Package testutil holds what the tests of several packages need alike:
// the package's shared redis-server, key prefixes that keep tests apart in
// it, bounded polling instead of sleeps, a logger that writes nothing, and
// self-signed certificates on disk. Only tests import it.
package testutil

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
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
	Until(tb, within, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

var errNotYet = errors.New("the condition does not hold")

// Until is Eventually for a check that says why its condition does not
// hold yet: it polls check until it returns nil, and the failure names
// check's last error.
func Until(tb testing.TB, within time.Duration, what string, check func() error) {
	tb.Helper()
	if err := poll(within, check); err != nil {
		tb.Fatalf("not within %v: %s: %v", within, what, err)
	}
}

// Await is Eventually for any goroutine (a fill running in the code under
// test, say): when cond still does not hold after within, it marks tb
// failed with Errorf, which any goroutine may call, and returns false
// where Eventually would stop the test.
func Await(tb testing.TB, within time.Duration, what string, cond func() bool) bool {
	tb.Helper()
	err := poll(within, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
	if err != nil {
		tb.Errorf("not within %v: %s: %v", within, what, err)
	}
	return err == nil
}

// poll calls check every 10ms until it returns nil, or returns its last
// error once within has passed.
func poll(within time.Duration, check func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runs numbers the prefixes UniquePrefix hands out.
var runs atomic.Int64

// UniquePrefix is a key prefix of tb's own: the test's name and a number,
// so that the runs of one test (-count) and its subtests stay apart in
// one Redis. Characters other than letters, digits, '.', '_' and '-'
// (a subtest's '/', quotes, colons) become '-', so that it can stand unquoted
// in a YAML config.
func UniquePrefix(tb testing.TB) string {
	name := strings.Map(func(r rune) rune {
		if r == '.' || r == '_' || r == '-' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') {
			return r
		}
		return '-'
	}, tb.Name())
	return fmt.Sprintf("%s-%d", name, runs.Add(1))
}

// DiscardLogger is a logger that writes nothing, for the code under test
// whose logging is not what the test looks at.
func DiscardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
