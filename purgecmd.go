package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cachegate/cachegate/admin"
)

// list is a flag that may be repeated.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// runPurge is `cachegate purge`: a client of the admin API's POST /purge.
// The admin address and token come from the config file unless given.
func runPurge(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cachegate purge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var req admin.PurgeRequest
	fs.Var((*list)(&req.Tags), "tag", "purge this `tag` (repeatable)")
	fs.Var((*list)(&req.URLs), "url", "purge this absolute `URL`, every variant (repeatable)")
	fs.Var((*list)(&req.Prefixes), "prefix", "purge this path or URL `prefix` (repeatable)")
	fs.Var((*list)(&req.Hosts), "host", "purge this `host` (repeatable)")
	fs.Var((*list)(&req.Routes), "route", "purge this `route` (repeatable)")
	fs.Var((*list)(&req.Patterns), "pattern", "purge the paths this `glob` matches, on every host (\"/users/42/**\") or one (\"example.com/users/*/posts\") (repeatable)")
	fs.BoolVar(&req.All, "all", false, "purge everything")
	fs.BoolVar(&req.Soft, "soft", false, "mark stale (served while refreshing) instead of invalid")
	client := adminFlags(fs)
	if code := parseCommand(fs, args, stderr); code != 0 {
		return code
	}
	c, err := client()
	if err != nil {
		return usageError(fs, stderr, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.do(ctx, http.MethodPost, "/purge", req)
	if err != nil {
		fmt.Fprintln(stderr, "cachegate purge:", err)
		return 1
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	stdout.Write(answer)
	return 0
}
