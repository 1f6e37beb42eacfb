package config

import (
	"net"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The containers cannot be run here (no Docker): these tests read
// docker-compose.yml and the Dockerfile as data and check them against the
// config compose mounts, loaded with the environment compose gives it.

// composeFile is the part of docker-compose.yml the tests read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Ports       []string          `yaml:"ports"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, name := range []string{"cachegate", "redis"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("docker-compose.yml has no service %q", name)
		}
	}
	return c
}

var composeVariable = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-?])([^}]*))?\}`)

// composeEnvironment is the environment compose gives service s when the
// host sets nothing but what a ":?" (required) variable asks for, which
// gets required's value.
func composeEnvironment(s composeService, required string) map[string]string {
	env := map[string]string{}
	for name, v := range s.Environment {
		env[name] = composeVariable.ReplaceAllStringFunc(v, func(m string) string {
			sub := composeVariable.FindStringSubmatch(m)
			if sub[2] == "-" {
				return sub[3]
			}
			return required
		})
	}
	return env
}

// loadComposeConfig loads docs/compose-cachegate.yaml with the environment
// compose gives the cachegate service.
func loadComposeConfig(t *testing.T, c composeFile) *Config {
	t.Helper()
	for name, v := range composeEnvironment(c.Services["cachegate"], "a-token") {
		t.Setenv(name, v)
	}
	cfg, err := Load("../docs/compose-cachegate.yaml")
	if err != nil {
		t.Fatalf("docs/compose-cachegate.yaml with compose's environment: %v", err)
	}
	return cfg
}

// published is one "[IP:]HOST:CONTAINER" entry of a service's ports.
type published struct{ ip, host, container string }

func ports(t *testing.T, s composeService) []published {
	t.Helper()
	var list []published
	for _, p := range s.Ports {
		f := strings.Split(p, ":")
		switch len(f) {
		case 2:
			list = append(list, published{host: f[0], container: f[1]})
		case 3:
			list = append(list, published{ip: f[0], host: f[1], container: f[2]})
		default:
			t.Fatalf("docker-compose.yml: port %q is not [IP:]HOST:CONTAINER", p)
		}
	}
	return list
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%q: %v", addr, err)
	}
	return port
}

func TestComposeConfigLoadsWithTheEnvironmentComposeSets(t *testing.T) {
	cfg := loadComposeConfig(t, readCompose(t))
	if cfg.Admin.Token != "a-token" {
		t.Errorf("admin.token = %q, want the CACHEGATE_ADMIN_TOKEN compose passes", cfg.Admin.Token)
	}
}

func TestComposeMountsTheConfigWhereTheImageReadsIt(t *testing.T) {
	c := readCompose(t)
	if !slices.Contains(c.Services["cachegate"].Volumes, "./docs/compose-cachegate.yaml:/etc/cachegate/cachegate.yaml:ro") {
		t.Errorf("cachegate volumes %q: want docs/compose-cachegate.yaml at /etc/cachegate/cachegate.yaml", c.Services["cachegate"].Volumes)
	}
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`CMD ["-config", "/etc/cachegate/cachegate.yaml"]`,
		`CMD ["/usr/local/bin/cachegate", "health", "-config", "/etc/cachegate/cachegate.yaml"]`,
	} {
		if !strings.Contains(string(dockerfile), want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
}

func TestComposePublishesTheProxyAndTheAdminPortOnLoopbackOnly(t *testing.T) {
	c := readCompose(t)
	cfg := loadComposeConfig(t, c)
	admin, proxy := portOf(t, cfg.Admin.Listen), portOf(t, cfg.Listen)
	var adminSeen, proxySeen bool
	for _, p := range ports(t, c.Services["cachegate"]) {
		switch p.container {
		case admin:
			adminSeen = true
			if p.ip != "127.0.0.1" {
				t.Errorf("admin port %s published on %q, want 127.0.0.1 only", admin, p.ip)
			}
		case proxy:
			proxySeen = true
		}
	}
	if !adminSeen || !proxySeen {
		t.Errorf("cachegate ports %q: want the proxy's %s and the admin's %s", c.Services["cachegate"].Ports, proxy, admin)
	}
}

func TestComposeRedisHasAMaxmemoryAndThePolicyREADMERecommends(t *testing.T) {
	c := readCompose(t)
	cfg := loadComposeConfig(t, c)
	if len(cfg.Store.Redis.Addrs) != 1 {
		t.Fatalf("store.redis.addrs = %q, want the redis service", cfg.Store.Redis.Addrs)
	}
	if host, port, _ := net.SplitHostPort(cfg.Store.Redis.Addrs[0]); host != "redis" || port != "6379" {
		t.Errorf("store.redis.addrs = %q, want redis:6379, the compose service", cfg.Store.Redis.Addrs)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const policy = "volatile-lru"
	if !strings.Contains(string(readme), "**`maxmemory-policy "+policy+"`**") {
		t.Fatalf("README no longer recommends maxmemory-policy %s: update this test and docker-compose.yml", policy)
	}
	cmd := c.Services["redis"].Command
	arg := func(flag string) string {
		if i := slices.Index(cmd, flag); i >= 0 && i+1 < len(cmd) {
			return cmd[i+1]
		}
		return ""
	}
	if m := arg("--maxmemory"); m == "" || m == "0" {
		t.Errorf("redis command %q: want a --maxmemory", cmd)
	}
	if p := arg("--maxmemory-policy"); p != policy {
		t.Errorf("redis --maxmemory-policy %q, want %s", p, policy)
	}
}

func TestComposeOriginIsAServiceListeningOnThePortTheConfigUses(t *testing.T) {
	c := readCompose(t)
	cfg := loadComposeConfig(t, c)
	u, err := url.Parse(cfg.Origin)
	if err != nil {
		t.Fatal(err)
	}
	origin, ok := c.Services[u.Hostname()]
	if !ok {
		t.Fatalf("origin %s is no compose service", cfg.Origin)
	}
	var conf string
	for _, v := range origin.Volumes {
		src, dst, _ := strings.Cut(v, ":")
		if strings.HasPrefix(dst, "/etc/nginx/conf.d/") {
			data, err := os.ReadFile(path.Join("..", src))
			if err != nil {
				t.Fatalf("origin's nginx config: %v", err)
			}
			conf = string(data)
		}
	}
	if !strings.Contains(conf, "listen "+u.Port()+";") || !strings.Contains(conf, "Cache-Control") {
		t.Errorf("origin's nginx config:\n%s\nwant listen %s; and a Cache-Control", conf, u.Port())
	}
}

func TestComposeKeepsCertificatesOnANamedVolumeTheImageMakesWritable(t *testing.T) {
	c := readCompose(t)
	cfg := loadComposeConfig(t, c)
	dir := cfg.TLS.ACME.StorageDir
	var target string
	for _, v := range c.Services["cachegate"].Volumes {
		src, rest, _ := strings.Cut(v, ":")
		dst, _, _ := strings.Cut(rest, ":")
		if _, named := c.Volumes[src]; named && strings.HasPrefix(dir, dst+"/") {
			target = dst
		}
	}
	if target == "" {
		t.Fatalf("tls.acme.storage_dir %q is on no named volume of cachegate (%q)", dir, c.Services["cachegate"].Volumes)
	}
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^COPY --from=build --chown=65532:65532 \S+ ` + regexp.QuoteMeta(target) + `$`).Match(dockerfile) {
		t.Errorf("Dockerfile does not create %s owned by nonroot (65532): the volume would not be writable", target)
	}
}
