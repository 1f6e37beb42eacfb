package httpfield

import (
	"os"
	"strings"
	"testing"
)

func TestREADMEListsEveryForwardingField(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ToLower(string(readme))
	for name := range forwardingFields {
		if !strings.Contains(text, "`"+strings.ToLower(name)+"`") {
			t.Errorf("README's Decisions do not list the forwarding field %s that cachegate drops", name)
		}
	}
	for _, prefix := range forwardingPrefixes {
		if !strings.Contains(text, "`"+strings.ToLower(prefix)+"`") {
			t.Errorf("README's Decisions do not name the prefix %s", prefix)
		}
	}
}
