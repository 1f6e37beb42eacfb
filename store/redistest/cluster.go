package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clusterTimeout bounds creating a cluster and waiting for it to be ready.
const clusterTimeout = 20 * time.Second

// Cluster is a Redis Cluster of masters only, each a Server on loopback.
type Cluster struct {
	nodes []*Server
}

// StartCluster starts masters cluster-enabled redis-servers (explicit bus
// ports), joins them with `redis-cli --cluster create`, and returns once
// every node reports cluster_state:ok, all nodes known and all 16384 slots
// assigned.
func StartCluster(masters int) (*Cluster, error) {
	if masters < 3 {
		return nil, fmt.Errorf("redistest: a cluster needs at least 3 masters, not %d", masters)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, fmt.Errorf("redistest: redis-cli is not on PATH (run `bash .ci/test`, which installs it): %w", err)
	}
	c := &Cluster{}
	for range masters {
		s, err := newServer(func(busPort int, dir string) ([]string, error) {
			return []string{
				"--cluster-enabled", "yes",
				"--cluster-port", strconv.Itoa(busPort),
				"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
				"--cluster-node-timeout", "2000",
			}, nil
		})
		if err != nil {
			c.Close()
			return nil, err
		}
		c.nodes = append(c.nodes, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redistest: redis-cli --cluster create: %w\n%s", err, out)
	}
	if err := c.waitReady(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Addrs returns the host:port of every node.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, s := range c.nodes {
		addrs[i] = s.Addr()
	}
	return addrs
}

// Close kills every node and removes their directories.
func (c *Cluster) Close() {
	for _, s := range c.nodes {
		s.Close()
	}
}

// waitReady polls CLUSTER INFO on every node until all are ready.
func (c *Cluster) waitReady(ctx context.Context) error {
	want := map[string]string{
		"cluster_state":          "ok",
		"cluster_slots_assigned": "16384",
		"cluster_known_nodes":    strconv.Itoa(len(c.nodes)),
	}
	for {
		var notReady string
		for _, s := range c.nodes {
			info, err := command(s.Addr(), "CLUSTER", "INFO")
			if err != nil {
				notReady = fmt.Sprintf("%s: %v", s.Addr(), err)
				break
			}
			fields := parseInfo(info)
			for k, v := range want {
				if fields[k] != v {
					notReady = fmt.Sprintf("%s: %s is %q, want %q", s.Addr(), k, fields[k], v)
					break
				}
			}
			if notReady != "" {
				break
			}
		}
		if notReady == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: cluster not ready within %v: %s", clusterTimeout, notReady)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// parseInfo splits the "name:value" lines of an INFO reply.
func parseInfo(info string) map[string]string {
	fields := make(map[string]string)
	for line := range strings.SplitSeq(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	return fields
}
