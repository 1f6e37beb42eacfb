// Package redistest starts real redis-server processes on free loopback
// ports for tests: a single node (New) or a Redis Cluster of several
// masters (StartCluster). Servers keep no data on disk beyond their
// temporary directory and die with the test binary (on Linux).
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// readyTimeout bounds the wait for a started server to answer PING.
const readyTimeout = 5 * time.Second

// Server is one redis-server child process listening on 127.0.0.1. Its
// methods are not safe for concurrent use.
type Server struct {
	bin   string
	port  int
	dir   string
	extra []string // flags after the common ones (cluster mode)

	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

// New starts a redis-server on a free loopback port, with persistence off
// and its working directory in a new temporary directory, and returns once
// it answers PING. It returns an error when redis-server is not on PATH.
func New() (*Server, error) {
	return newServer(func(port int, dir string) ([]string, error) { return nil, nil })
}

// newServer starts a server whose extra flags extra returns for the port
// and directory picked; a start that fails (the free port was taken in the
// meantime) is retried once on other ports.
func newServer(extra func(port int, dir string) ([]string, error)) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redistest: redis-server is not on PATH (run `bash .ci/test`, which installs it): %w", err)
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	s := &Server{bin: bin, dir: dir}
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(2)
		if err == nil {
			s.port = ports[0]
			s.extra, err = extra(ports[1], dir)
		}
		if err == nil {
			err = s.start()
		}
		if err == nil {
			return s, nil
		}
		if attempt == 2 {
			os.RemoveAll(dir)
			return nil, err
		}
		// A node that failed to start may have written its cluster config.
		os.Remove(filepath.Join(dir, "nodes.conf"))
	}
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Stop kills the server and waits for it to exit, keeping its port and
// directory for Restart. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart starts a stopped server again on the same port and waits until
// it answers PING.
func (s *Server) Restart() error {
	s.Stop()
	return s.start()
}

// Close kills the server and removes its directory.
func (s *Server) Close() {
	s.Stop()
	os.RemoveAll(s.dir)
}

// start runs redis-server on s.port and waits until it answers PING.
func (s *Server) start() error {
	args := []string{
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(s.port),
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--protected-mode", "no",
		"--loglevel", "warning",
	}
	logPath := filepath.Join(s.dir, "redis.log")
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("redistest: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(s.bin, append(args, s.extra...)...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited
	if err := waitReady(s.Addr(), exited); err != nil {
		s.Stop()
		out, _ := os.ReadFile(logPath)
		return fmt.Errorf("redistest: redis-server on %s: %w; its log:\n%s", s.Addr(), err, out)
	}
	return nil
}

// waitReady dials addr until it answers "PING" with "+PONG", giving up when
// the process exits or after readyTimeout.
func waitReady(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("exited before answering PING")
		default:
		}
		if last = ping(addr); last == nil {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("no PONG within %v: %w", readyTimeout, last)
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	// A server started with --requirepass answers, though not PONG.
	if line = strings.TrimRight(line, "\r\n"); line != "+PONG" && !strings.HasPrefix(line, "-NOAUTH") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("redistest: find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// command sends one command to addr and returns its reply: a simple
// string, an integer or a bulk string (a Redis error is an error).
func command(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("%s: %s", strings.Join(args, " "), line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("bad bulk reply %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}
