package redisx

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/store/redistest"
)

// recorder is a Handler that hands what it is told to the test.
type recorder struct {
	ups      chan Gap
	downs    chan error
	messages chan string
}

func newRecorder() *recorder {
	return &recorder{ups: make(chan Gap, 10), downs: make(chan error, 10), messages: make(chan string, 10)}
}

func (r *recorder) handler() Handler {
	return Handler{
		Message: func(_ context.Context, m *redis.Message) { r.messages <- m.Payload },
		Up:      func(_ context.Context, g Gap) { r.ups <- g },
		Down:    func(_ context.Context, err error) { r.downs <- err },
	}
}

// receive returns the next value of ch, failing the test after ten
// seconds (a bound for a broken build, not a timing).
func receive[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("still waiting after 10s for %s", what)
		panic("unreachable")
	}
}

// publishUntilHeard publishes payload until the recorder hears it: a
// message published before Redis has registered the subscription is not
// delivered.
func publishUntilHeard(t *testing.T, c *redis.Client, channel, payload string, r *recorder) {
	t.Helper()
	eventually(t, "the message "+payload+" is heard", func() bool {
		c.Publish(context.Background(), channel, payload)
		select {
		case got := <-r.messages:
			if got != payload {
				t.Fatalf("heard %q, want %q", got, payload)
			}
			return true
		case <-time.After(10 * time.Millisecond):
			return false
		}
	})
}

func TestASubscriptionWhoseConnectionIsKilledResubscribesAndReportsTheGap(t *testing.T) {
	c, channel := client(t, server.Addr()), uniqueKey(t)
	r := newRecorder()
	s := NewSubscription(c, channel, time.Minute, r.handler())
	s.Start()
	defer s.Close()
	if g := receive(t, "the first Up", r.ups); g.Resubscribed || g.Down != 0 || g.Err != nil {
		t.Errorf("the first Up: %+v; want a first subscription without a gap", g)
	}
	if !s.Healthy() {
		t.Error("Healthy after Up = false")
	}
	publishUntilHeard(t, c, channel, "before", r)

	if err := c.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	if err := receive(t, "Down after the kill", r.downs); err == nil {
		t.Error("Down reported a nil error; want what broke the subscription")
	}
	g := receive(t, "Up after the kill", r.ups)
	if !g.Resubscribed || g.Down <= 0 || g.Err == nil {
		t.Errorf("Up after the kill: %+v; want a resubscription with the gap's length and cause", g)
	}
	if !s.Healthy() {
		t.Error("Healthy after the resubscription = false")
	}
	publishUntilHeard(t, c, channel, "after", r)
}

func TestASubscriptionOutlivesARedisRestartAndComesUpWhenRedisIsBack(t *testing.T) {
	own, err := redistest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	c, channel := client(t, own.Addr()), uniqueKey(t)
	r := newRecorder()
	s := NewSubscription(c, channel, 50*time.Millisecond, r.handler())
	s.Start()
	defer s.Close()
	receive(t, "the first Up", r.ups)

	own.Stop()
	receive(t, "Down after Redis stopped", r.downs)
	if s.Healthy() {
		t.Error("Healthy while Redis is stopped = true")
	}
	if err := own.Restart(); err != nil {
		t.Fatal(err)
	}
	if g := receive(t, "Up after Redis restarted", r.ups); !g.Resubscribed || g.Down <= 0 {
		t.Errorf("Up after the restart: %+v; want a resubscription with its gap", g)
	}
	publishUntilHeard(t, c, channel, "back", r)
}

func TestCloseDoesNotWaitForTheQuietChannelsPing(t *testing.T) {
	r := newRecorder()
	s := NewSubscription(client(t, server.Addr()), uniqueKey(t), time.Hour, r.handler())
	s.Start()
	receive(t, "the first Up", r.ups)
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	receive(t, "Close to return (it would wait for the hourly ping)", closed)
	if s.Healthy() {
		t.Error("Healthy after Close = true; a closed subscription hears nothing")
	}
}
