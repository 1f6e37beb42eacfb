package main

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestArchitectureShowsEveryImport keeps the import graph of
// docs/ARCHITECTURE.md true: each line "pkg ──▶ a, b" lists exactly the
// cachegate packages pkg imports (tests excluded), and every package that
// imports another is shown.
func TestArchitectureShowsEveryImport(t *testing.T) {
	doc, err := os.ReadFile("docs/ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string][]string{}
	for _, m := range regexp.MustCompile(`(?m)^(\S+) ──▶ (.+)$`).FindAllStringSubmatch(string(doc), -1) {
		deps := strings.Split(m[2], ", ")
		slices.Sort(deps)
		shown[m[1]] = deps
	}
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/cachegate/cachegate"
	name := func(path string) string {
		if path == module {
			return "main"
		}
		return strings.TrimPrefix(path, module+"/")
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := name(fields[0])
		if strings.HasPrefix(pkg, "bench/") || pkg == "e2e" {
			continue // load tools and tests, not part of the binary
		}
		var deps []string
		for _, imp := range fields[1:] {
			if strings.HasPrefix(imp, module+"/") {
				deps = append(deps, name(imp))
			}
		}
		slices.Sort(deps)
		if len(deps) == 0 && shown[pkg] == nil {
			continue
		}
		if !slices.Equal(deps, shown[pkg]) {
			t.Errorf("docs/ARCHITECTURE.md shows %s ──▶ %s; the code imports %s", pkg, strings.Join(shown[pkg], ", "), strings.Join(deps, ", "))
		}
		delete(shown, pkg)
	}
	for pkg := range shown {
		t.Errorf("docs/ARCHITECTURE.md shows imports of %s, which imports no cachegate package", pkg)
	}
}
