package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

// runHealth is `cachegate health`: a GET of the admin API's /healthz
// (/readyz with -ready) of a running instance, exit 0 when it answers 2xx
// and 1 otherwise, with one line saying so. It is the Docker HEALTHCHECK of
// the distroless image, which has no shell, curl or wget. /readyz answers
// 200 when degraded too (the instance still serves), so -ready fails only
// when the instance does not answer or says it is not ready at all.
func runHealth(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cachegate health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ready := fs.Bool("ready", false, "check GET /readyz instead of GET /healthz")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this `duration`")
	client := adminFlags(fs)
	if code := parseCommand(fs, args, stderr); code != 0 {
		return code
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "cachegate health: -timeout %s: must be positive, e.g. 5s\n", *timeout)
		return 2
	}
	c, err := client()
	if err != nil {
		return usageError(fs, stderr, err)
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	resp, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		fmt.Fprintf(stderr, "cachegate health: unhealthy: %s: %v\n", c.base, err)
		return 1
	}
	defer resp.Body.Close()
	fmt.Fprintf(stdout, "%s%s: %s\n", c.base, path, firstLine(resp.Body))
	return 0
}

// firstLine is the first line of an answer (readyz's state), at most 200
// bytes of it, without control characters (printable): whatever answers
// at the address must not write escape sequences to a terminal.
func firstLine(r io.Reader) string {
	s := bufio.NewScanner(io.LimitReader(r, 200))
	if s.Scan() {
		return printable(s.Text())
	}
	return "ok"
}
