package policy

import (
	"testing"

	"github.com/cachegate/cachegate/config"
)

// mustParse parses and compiles a configuration, failing the test when
// either refuses it.
func mustParse(t testing.TB, text string) *Rules {
	t.Helper()
	cfg, err := config.Parse("cfg.yaml", []byte(text))
	if err != nil {
		t.Fatalf("Parse refused:\n%s\nwith: %v", text, err)
	}
	rules, err := Compile(cfg)
	if err != nil {
		t.Fatalf("Compile refused:\n%s\nwith: %v", text, err)
	}
	return rules
}
