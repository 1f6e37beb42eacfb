package config

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// exampleDiffers are the options config.example.yaml sets to something
// other than their default on purpose: what has no default, values read
// from the environment, and the example routes.
var exampleDiffers = regexp.MustCompile(`^(origin|admin\.token|store\.redis\.password|routes|routes\[[1-9]\d*\]\..*|routes\[0\]\.(name|match\..*|mode|ttl|stale_while_revalidate|stale_if_error|tags|key\.ignore_all_query|deception_check))$`)

// valueAt returns the option at path ("routes[0].key.headers") in v, a
// Config, by YAML names.
func valueAt(t *testing.T, v reflect.Value, path string) reflect.Value {
	t.Helper()
	for part := range strings.SplitSeq(path, ".") {
		name, idx, indexed := strings.Cut(part, "[")
		found := false
		for i := range v.NumField() {
			if optionName(v.Type().Field(i)) == name {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			t.Fatalf("no option %q in %s", name, path)
		}
		if indexed {
			n, _ := strconv.Atoi(strings.TrimSuffix(idx, "]"))
			v = v.Index(n)
		}
	}
	return v
}

// sameValue compares two option values; an empty list is the same as
// none, and header names in lists are compared case-insensitively.
func sameValue(a, b reflect.Value) bool {
	if (a.Kind() == reflect.Slice || a.Kind() == reflect.Map) && a.Len() == 0 && b.Len() == 0 {
		return true
	}
	if as, ok := a.Interface().([]string); ok {
		bs := b.Interface().([]string)
		return slices.EqualFunc(as, bs, strings.EqualFold)
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

func TestExampleDocumentsTheDefaults(t *testing.T) {
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CACHEGATE_ADMIN_TOKEN", "secret")
	cfg, x, err := parse("config.example.yaml", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	def := Default()
	def.Routes = []Route{defaultRouteOptions()} // the first example route documents a route's defaults
	compared := 0
	for path := range x.set {
		if exampleDiffers.MatchString(path) {
			continue
		}
		got := valueAt(t, reflect.ValueOf(cfg).Elem(), path)
		if got.Kind() == reflect.Struct || strings.HasSuffix(path, "]") {
			continue
		}
		want := valueAt(t, reflect.ValueOf(def).Elem(), path)
		compared++
		if !sameValue(got, want) {
			t.Errorf("config.example.yaml:%d: %s is %v, but Default() has %v", x.lineOf(path), path, got, want)
		}
	}
	if compared < 60 {
		t.Errorf("compared %d options with Default(), want the example to document them all", compared)
	}
}

func TestExampleNamesEveryOptionThatNeedsARestart(t *testing.T) {
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^# Needs a restart: (.*)$`).FindSubmatch(data)
	if m == nil {
		t.Fatal(`config.example.yaml has no "# Needs a restart: ..." line`)
	}
	var listed []string
	for s := range strings.SplitSeq(string(m[1]), ",") {
		listed = append(listed, strings.TrimSpace(s))
	}
	if want := RestartOptions(); !slices.Equal(listed, want) {
		t.Errorf("config.example.yaml lists %q as needing a restart, want %q", listed, want)
	}
}

func TestRestartNeededNamesTheChangedOptionsAReloadDoesNotApply(t *testing.T) {
	old := Default()
	next := Default()
	next.Listen = ":8081"
	next.Store.Redis.Addrs = []string{"10.0.0.1:6379"}
	next.ClientLimits.MaxHeaderBytes = 1 << 20
	next.TLS.Certificates = []CertificateFiles{{CertFile: "a", KeyFile: "b"}}
	// Options a reload applies are never named.
	next.OriginTimeouts.Connect = Duration(time.Second)
	next.Cache.Collapse.Wait = Duration(time.Second)
	next.Log.Level = "debug"
	next.ClientLimits.MaxBodyBytes = 1
	got := RestartNeeded(old, next)
	want := []string{"listen", "store.redis.addrs", "tls.certificates", "client_limits.max_header_bytes"}
	if !slices.Equal(got, want) {
		t.Errorf("RestartNeeded = %q, want %q", got, want)
	}
	if got := RestartNeeded(old, Default()); len(got) != 0 {
		t.Errorf("RestartNeeded of two defaults = %q, want none", got)
	}
}

func TestRestartOptionsAreTheListenersTheStoreTLSTheServerLimitsTheGCAndTheHitLane(t *testing.T) {
	want := []string{"listen", "admin.listen", "store", "tls", "client_limits.read_header_timeout", "client_limits.max_header_bytes", "gc", "hit_lane"}
	if got := RestartOptions(); !slices.Equal(got, want) {
		t.Errorf("RestartOptions = %q, want %q", got, want)
	}
}
