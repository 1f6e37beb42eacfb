package testutil

import (
	"crypto/tls"
	"regexp"
	"testing"
	"time"
)

func TestUniquePrefixIsDistinctPerCallAndStandsUnquotedInYAML(t *testing.T) {
	t.Run("a sub/test", func(t *testing.T) {
		a, b := UniquePrefix(t), UniquePrefix(t)
		if a == b {
			t.Errorf("two prefixes of one test are both %q", a)
		}
		if ok := regexp.MustCompile(`^TestUniquePrefix[A-Za-z]*-a_sub-test-[0-9]+$`).MatchString(a); !ok {
			t.Errorf("prefix %q, want the test's name with - for /, and a number", a)
		}
	})
}

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	polls := 0
	Eventually(t, 5*time.Second, "the third poll", func() bool { polls++; return polls == 3 })
	if polls != 3 {
		t.Errorf("polled %d times, want 3", polls)
	}
}

// errorsOnly records Errorf calls instead of failing its test.
type errorsOnly struct {
	testing.TB
	errors int
}

func (e *errorsOnly) Errorf(string, ...any) { e.errors++ }

func TestAwaitWorksFromAnotherGoroutineAndFailsWithoutStoppingIt(t *testing.T) {
	done := make(chan bool)
	polls := 0
	go func() { done <- Await(t, 5*time.Second, "the third poll", func() bool { polls++; return polls == 3 }) }()
	if !<-done || polls != 3 {
		t.Errorf("Await of a condition that holds at the third poll returned after %d polls", polls)
	}
	rec := &errorsOnly{TB: t}
	go func() { done <- Await(rec, 30*time.Millisecond, "never", func() bool { return false }) }()
	if <-done || rec.errors != 1 {
		t.Errorf("Await of a condition that never holds: returned true or reported %d errors, want false and 1", rec.errors)
	}
}

func TestWriteSelfSignedWritesAPairThatLoads(t *testing.T) {
	certFile, keyFile, cert := WriteSelfSigned(t, t.TempDir(), "a.test", "b.test")
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		t.Fatalf("the pair written does not load: %v", err)
	}
	if err := cert.VerifyHostname("b.test"); err != nil || cert.Subject.CommonName != "a.test" {
		t.Errorf("certificate for %q (%v), want a.test with b.test among its names", cert.Subject.CommonName, err)
	}
}
