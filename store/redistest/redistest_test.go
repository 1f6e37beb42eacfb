package redistest

import "testing"

func TestServerStopRestart(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("PING a started server: %v", err)
	}
	s.Stop()
	if err := ping(s.Addr()); err == nil {
		t.Fatalf("PING a stopped server: no error, want one")
	}
	if err := s.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("PING a restarted server: %v", err)
	}
}

func TestStartCluster(t *testing.T) {
	c, err := StartCluster(3)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := len(c.Addrs()); got != 3 {
		t.Fatalf("Addrs: %d nodes, want 3", got)
	}
	info, err := command(c.Addrs()[0], "CLUSTER", "INFO")
	if err != nil {
		t.Fatal(err)
	}
	if f := parseInfo(info); f["cluster_state"] != "ok" {
		t.Errorf("cluster_state %q, want ok", f["cluster_state"])
	}
}
