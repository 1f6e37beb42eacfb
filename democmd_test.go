package main

import (
	"strings"
	"testing"

	"github.com/cachegate/cachegate/internal/testutil"
)

func TestDemoRefusesItsPublicTokenOnAnAdminAddressBeyondLoopback(t *testing.T) {
	var stdout, stderr testutil.Buffer
	code := run([]string{"demo", "-admin-listen", "0.0.0.0:0", "-listen", busyAddress(t)}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "-token") {
		t.Errorf("exit %d, stderr %q; want 2 and a message asking for a -token", code, stderr.String())
	}
}

func TestDemoWalkthroughPrintsTheLiveCommandsThisBuildHas(t *testing.T) {
	var b strings.Builder
	s := demoSetup{Listen: "127.0.0.1:8080", Origin: "127.0.0.1:9000", Admin: "127.0.0.1:9091", Token: "demo",
		Config: "/tmp/demo.yaml", Self: "cachegate", Live: []string{"stat", "log"}}
	if err := demoWalkthrough.Execute(&b, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"cachegate purge -admin http://127.0.0.1:9091 -token demo -tag news",
		"cachegate stat -admin http://127.0.0.1:9091 -token demo\n",
		"cachegate log -admin http://127.0.0.1:9091 -token demo\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("walkthrough:\n%s\nwant a line %q", b.String(), want)
		}
	}
}
