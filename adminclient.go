package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cachegate/cachegate/config"
)

// adminClient is how the CLI commands (purge, and the others that read a
// running instance) reach its admin API: a base URL and a bearer token.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

// adminFlags adds -config, -admin and -token to fs. The function it returns,
// called after fs.Parse, resolves them: the admin address and token come
// from the config file unless given, so that a command run beside the
// server needs no flag at all.
func adminFlags(fs *flag.FlagSet) func() (*adminClient, error) {
	configPath := fs.String("config", "cachegate.yaml", "the configuration `file` (for admin.listen and admin.token)")
	base := fs.String("admin", "", "the admin API's base `URL` (default from the config)")
	token := fs.String("token", envToken(), "the admin `token` (default $CACHEGATE_ADMIN_TOKEN, else $CACHEGATE_TOKEN, else admin.token of the config)")
	return func() (*adminClient, error) {
		c := &adminClient{base: *base, token: *token, http: adminHTTPClient(adminAnswerTimeout)}
		if c.base != "" && c.token != "" {
			c.base = strings.TrimSuffix(c.base, "/")
			return c, nil
		}
		cfg, err := config.LoadFor(*configPath, neededOptions(c)...)
		if err != nil {
			return nil, fmt.Errorf("give -admin and -token, or a config: %w", err)
		}
		if c.base == "" {
			if cfg.Admin.Listen == "" {
				return nil, fmt.Errorf("%s has no admin listener (admin.listen is \"\"); give -admin URL", *configPath)
			}
			c.base = "http://" + cfg.Admin.Listen
		}
		if c.token == "" {
			c.token = cfg.Admin.Token
		}
		c.base = strings.TrimSuffix(c.base, "/")
		return c, nil
	}
}

// adminAnswerTimeout bounds how long a command waits to connect to the
// admin listener and then for its answer's header: an address that drops
// packets, or a process that accepts and never answers, is an error, not
// a command that hangs. The body has no bound (log and top stream it).
const adminAnswerTimeout = 10 * time.Second

// adminHTTPClient is the HTTP client of the commands, with connecting and
// the answer's header bounded by timeout.
func adminHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}}
}

// neededOptions are the options of the config file c still needs, those
// that no flag gave: only they have to be valid, and only their
// environment variables set (the server's secrets, e.g. webhook secrets,
// are not the client's business).
func neededOptions(c *adminClient) []string {
	var options []string
	if c.base == "" {
		options = append(options, "admin.listen")
	}
	if c.token == "" {
		options = append(options, "admin.token")
	}
	return options
}

// do sends method path with body (JSON-encoded unless nil) and the token.
// Its deadline is ctx's: a streaming command has none. The caller closes the response's body; a status other than 2xx is an
// error that quotes the answer.
func (c *adminClient) do(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(answer))
	}
	return resp, nil
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
