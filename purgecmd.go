package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cachegate/cachegate/admin"
	"github.com/cachegate/cachegate/config"
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
	fs.BoolVar(&req.All, "all", false, "purge everything")
	fs.BoolVar(&req.Soft, "soft", false, "mark stale (served while refreshing) instead of invalid")
	configPath := fs.String("config", "cachegate.yaml", "the configuration `file` (for admin.listen and admin.token)")
	admin := fs.String("admin", "", "the admin API's base `URL` (default from the config)")
	token := fs.String("token", envToken(), "the admin `token` (default $CACHEGATE_ADMIN_TOKEN, else $CACHEGATE_TOKEN, else admin.token of the config)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if extra := fs.Args(); len(extra) > 0 {
		fmt.Fprintf(stderr, "cachegate purge: unexpected arguments %q\n", extra)
		return 2
	}
	if *admin == "" || *token == "" {
		cfg, err := config.Load(*configPath)
		if err != nil {
			fmt.Fprintf(stderr, "cachegate purge: give -admin and -token, or a config: %v\n", err)
			return 2
		}
		if *admin == "" {
			if cfg.Admin.Listen == "" {
				fmt.Fprintf(stderr, "cachegate purge: %s has no admin listener (admin.listen is \"\"); give -admin URL\n", *configPath)
				return 2
			}
			*admin = "http://" + cfg.Admin.Listen
		}
		if *token == "" {
			*token = cfg.Admin.Token
		}
	}
	body, _ := json.Marshal(req)
	hreq, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(*admin, "/")+"/purge", bytes.NewReader(body))
	if err != nil {
		fmt.Fprintln(stderr, "cachegate purge:", err)
		return 2
	}
	hreq.Header.Set("Authorization", "Bearer "+*token)
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(hreq)
	if err != nil {
		fmt.Fprintln(stderr, "cachegate purge:", err)
		return 1
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "cachegate purge: %s: %s", resp.Status, answer)
		return 1
	}
	stdout.Write(answer)
	return 0
}

// envToken is the admin token from the environment: CACHEGATE_ADMIN_TOKEN,
// the variable config.example.yaml reads admin.token from, else
// CACHEGATE_TOKEN, the name earlier versions read (kept so scripts go on
// working).
func envToken() string {
	if t := os.Getenv("CACHEGATE_ADMIN_TOKEN"); t != "" {
		return t
	}
	return os.Getenv("CACHEGATE_TOKEN")
}
