package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/demo"
)

// The demo is registered here rather than in clientCommands' literal: its
// walkthrough lists the commands of that table, and a literal referring to
// itself through runDemo would be an initialization cycle.
func init() { clientCommands["demo"] = runDemo }

// demoToken is the admin token of the demo unless -token gives another. It
// is printed and documented, so the demo refuses it on an admin address
// other than loopback.
const demoToken = "demo"

// demoSetup is what the demo runs and what its walkthrough prints.
type demoSetup struct {
	Listen, Origin, Admin, Token string
	// Config is the file the demo wrote and serves: a SIGHUP or POST
	// /reload reads it again, as with any config.
	Config string
	PID    int
	// Self is how to run this binary again (see selfCommand).
	Self string
	// Live are the commands of this build that watch a running instance.
	Live []string
}

// runDemo is `cachegate demo`: the demo origin, and a proxy before it on the
// memory store with an admin API on a fixed loopback address and a known
// token, so that the commands it prints (curl, purge, the live views) work
// as they are.
func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cachegate demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	s := demoSetup{PID: os.Getpid(), Self: selfCommand()}
	fs.StringVar(&s.Listen, "listen", "127.0.0.1:8080", "the proxy's `address`")
	originListen := fs.String("origin-listen", "127.0.0.1:9000", "the demo origin's `address`")
	fs.StringVar(&s.Admin, "admin-listen", "127.0.0.1:9091", "the admin API's `address`")
	fs.StringVar(&s.Token, "token", demoToken, "the admin API's `token`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if extra := fs.Args(); len(extra) > 0 {
		fmt.Fprintf(stderr, "cachegate demo: unexpected arguments %q\n", extra)
		return 2
	}
	if s.Token == demoToken && !isLoopback(s.Admin) {
		fmt.Fprintf(stderr, "cachegate demo: -admin-listen %s is not loopback: give a -token of your own (%q is public)\n", s.Admin, demoToken)
		return 2
	}
	ln, err := net.Listen("tcp", *originListen)
	if err != nil {
		fmt.Fprintln(stderr, "cachegate demo:", err)
		return 1
	}
	defer ln.Close()
	go http.Serve(ln, demo.New())
	s.Origin = ln.Addr().String()
	dir, err := os.MkdirTemp("", "cachegate-demo-")
	if err != nil {
		fmt.Fprintln(stderr, "cachegate demo:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	s.Config = filepath.Join(dir, "demo.yaml")
	cfg, err := writeDemoConfig(s)
	if err != nil {
		fmt.Fprintln(stderr, "cachegate demo:", err)
		return 1
	}
	for _, name := range []string{"stat", "log", "top"} {
		if _, ok := clientCommands[name]; ok {
			s.Live = append(s.Live, name)
		}
	}
	// The walkthrough is printed once the demo listens: every command in it
	// works as soon as it is shown.
	return serve(cfg, stderr, func() {
		if err := demoWalkthrough.Execute(stdout, s); err != nil {
			fmt.Fprintln(stderr, "cachegate demo:", err)
		}
	})
}

// writeDemoConfig writes the demo's config to s.Config and loads it from
// there, so that the file the walkthrough names is the one served.
func writeDemoConfig(s demoSetup) (*config.Config, error) {
	var b strings.Builder
	if err := demoConfig.Execute(&b, s); err != nil {
		return nil, err
	}
	if err := os.WriteFile(s.Config, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	return config.Load(s.Config)
}

// isLoopback reports whether the listen address addr is on a loopback
// interface only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// selfCommand is how the walkthrough runs this binary again: its path when
// it is called cachegate, else `go run .` (a demo started with go run, whose
// binary lives in a temporary directory).
func selfCommand() string {
	if exe := os.Args[0]; filepath.Base(exe) == "cachegate" {
		return exe
	}
	return "go run ."
}

// demoConfig is the demo's config: YAML values quoted with printf %q, which
// YAML reads as Go writes it for these plain addresses and tokens.
var demoConfig = template.Must(template.New("demo.yaml").Parse(`# The config of cachegate demo: edit it, then reload with
#   kill -HUP {{.PID}}
# (this file is removed when the demo stops). See config.example.yaml.
listen: {{printf "%q" .Listen}}
origin: {{printf "%q" (print "http://" .Origin)}}
admin:
  listen: {{printf "%q" .Admin}}
  token: {{printf "%q" .Token}}
store:
  backend: memory
  memory:
    max_bytes: 64MiB
routes:
  - name: slow
    match: {path: /slow/}
    ttl: 30s
    mode: override
    stale_while_revalidate: 30s
    stale_if_error: 5m
`))

// demoWalkthrough is what the demo prints: where everything is and the
// commands to try, in order.
var demoWalkthrough = template.Must(template.New("walkthrough").Parse(`cachegate demo
  origin     http://{{.Origin}}   (demo/demo.go: each path says how it caches)
  proxy      http://{{.Listen}}
  admin API  http://{{.Admin}}   token {{.Token}}
  config     {{.Config}}   (edit it, then: kill -HUP {{.PID}})

Try, in another terminal:
  curl -si http://{{.Listen}}/time
      twice: Cache-Status goes from a miss to a hit, Age grows (fresh for 5 s)
  curl -si 'http://{{.Listen}}/max-age/300/post?tag=news'
      fresh for 5 minutes, tagged news by the origin's Surrogate-Key
  {{.Self}} purge -admin http://{{.Admin}} -token {{.Token}} -tag news
      then the curl above is a miss again (Cache-Status: ...; detail=purged)
  {{.Self}} purge -admin http://{{.Admin}} -token {{.Token}} -url http://{{.Listen}}/time
  {{.Self}} purge -admin http://{{.Admin}} -token {{.Token}} -all -soft
      everything stale instead of gone: served while it is fetched again
  curl -s -X POST -H 'Authorization: Bearer {{.Token}}' http://{{.Admin}}/reload
  curl -s http://{{.Admin}}/metrics | grep ^cachegate_requests
{{- range .Live}}
  {{$.Self}} {{.}} -admin http://{{$.Admin}} -token {{$.Token}}
{{- end}}

`))
