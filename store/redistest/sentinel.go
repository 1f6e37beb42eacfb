package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name the Sentinel of StartSentinel monitors.
const MasterName = "mymaster"

// Sentinel is a master, one replica and one Sentinel monitoring them, all
// child processes on loopback ports.
type Sentinel struct {
	Master, Replica *Server
	port            int
	dir             string
	cmd             *exec.Cmd
	exited          chan struct{}
}

// StartSentinel starts a master, a replica of it and a Sentinel (quorum 1,
// down after 1s, failover timeout 3s), and returns once all three answer.
func StartSentinel() (*Sentinel, error) {
	// The replica's first sync starts at once, not after the default
	// diskless-sync delay of 5s (Redis waits for more replicas to join).
	master, err := NewWithArgs("--repl-diskless-sync-delay", "0")
	if err != nil {
		return nil, err
	}
	replica, err := newServer(func(int, string) ([]string, error) {
		return []string{"--replicaof", "127.0.0.1", strconv.Itoa(master.port)}, nil
	})
	if err != nil {
		master.Close()
		return nil, err
	}
	s := &Sentinel{Master: master, Replica: replica}
	if err := s.start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Sentinel) start() error {
	ports, err := freePorts(1)
	if err != nil {
		return fmt.Errorf("redistest: %w", err)
	}
	s.port = ports[0]
	if s.dir, err = os.MkdirTemp("", "redistest-sentinel-"); err != nil {
		return fmt.Errorf("redistest: %w", err)
	}
	conf := filepath.Join(s.dir, "sentinel.conf")
	err = os.WriteFile(conf, []byte(fmt.Sprintf(`port %d
bind 127.0.0.1
protected-mode no
dir %s
sentinel monitor %s 127.0.0.1 %d 1
sentinel down-after-milliseconds %[3]s 1000
sentinel failover-timeout %[3]s 3000
sentinel known-replica %[3]s 127.0.0.1 %[5]d
`, s.port, s.dir, MasterName, s.Master.port, s.Replica.port)), 0o644)
	if err != nil {
		return fmt.Errorf("redistest: %w", err)
	}
	log, err := os.Create(filepath.Join(s.dir, "sentinel.log"))
	if err != nil {
		return fmt.Errorf("redistest: %w", err)
	}
	defer log.Close()
	s.cmd = exec.Command(s.Master.bin, conf, "--sentinel")
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start sentinel: %w", err)
	}
	s.exited = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.exited) }()
	if err := waitReady(s.Addr(), s.exited); err != nil {
		out, _ := os.ReadFile(filepath.Join(s.dir, "sentinel.log"))
		return fmt.Errorf("redistest: sentinel on %s: %w; its log:\n%s", s.Addr(), err, out)
	}
	return nil
}

// Addr is the Sentinel's host:port.
func (s *Sentinel) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// MasterAddr asks the Sentinel for the current master's host:port.
func (s *Sentinel) MasterAddr() (string, error) {
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	hp, err := c.GetMasterAddrByName(ctx, MasterName).Result()
	if err != nil {
		return "", err
	}
	return strings.Join(hp, ":"), nil
}

// Failover makes the Sentinel promote the replica, retrying while the
// Sentinel does not know it yet, and returns once it reports the replica
// as the master.
func (s *Sentinel) Failover() error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := command(s.Addr(), "SENTINEL", "FAILOVER", MasterName)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: failover: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for {
		addr, err := s.MasterAddr()
		if err == nil && addr == s.Replica.Addr() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: failover: master is still %s (%v)", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Close stops the Sentinel and both servers.
func (s *Sentinel) Close() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		<-s.exited
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
	s.Replica.Close()
	s.Master.Close()
}
