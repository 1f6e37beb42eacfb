package redisx

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRecentFailureKeepsRedisOffForAPauseAfterAFailureOnly(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	for _, tc := range []struct {
		name    string
		err     error
		failure bool
	}{
		{"no error", nil, false},
		{"a miss is an answer", redis.Nil, false},
		{"the caller's own cancellation says nothing about Redis", context.Canceled, false},
		{"a deadline: Redis was too slow", context.DeadlineExceeded, true},
		{"a broken connection", io.EOF, true},
	} {
		var f RecentFailure
		f.Note(tc.err, now)
		if got := f.Recent(now); got != tc.failure {
			t.Errorf("%s: Recent right after Note(%v) = %v, want %v", tc.name, tc.err, got, tc.failure)
		}
		if f.Recent(now.Add(FailurePause)) {
			t.Errorf("%s: Recent a whole FailurePause later = true, want false", tc.name)
		}
	}
	var f RecentFailure
	if f.Recent(now) {
		t.Error("the zero RecentFailure remembers a failure")
	}
	f.Note(io.EOF, now)
	if !f.Recent(now.Add(FailurePause - time.Millisecond)) {
		t.Error("a failure is forgotten before FailurePause has passed")
	}
}
