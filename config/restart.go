package config

import (
	"reflect"
	"strconv"
)

// RestartOptions lists the options a reload does not apply, by path: the
// fields tagged reload:"restart" (an option below one is included in it).
// They are read once, when the process starts: listeners, the store and
// its Redis connection, TLS and ACME, and the limits the HTTP servers are
// built with.
func RestartOptions() []string {
	var paths []string
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := optionName(f)
			if name == "" {
				continue
			}
			if f.Tag.Get("reload") == "restart" {
				paths = append(paths, join(path, name))
			} else if f.Type.Kind() == reflect.Struct {
				walk(f.Type, join(path, name))
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return paths
}

// RestartNeeded returns the options that differ between old and new but
// that a reload does not apply (RestartOptions), by path, most specific
// first ("store.redis.addrs", not "store"), in the order of Config. A
// reload keeps their old values until the next start.
func RestartNeeded(old, new *Config) []string {
	var changed []string
	diffRestart(reflect.ValueOf(old).Elem(), reflect.ValueOf(new).Elem(), "", false, &changed)
	return changed
}

// diffRestart appends to changed the path of every option below path that
// differs between a and b and needs a restart (restart: an enclosing
// option is tagged so).
func diffRestart(a, b reflect.Value, path string, restart bool, changed *[]string) {
	switch {
	case a.Kind() == reflect.Struct:
		for i := range a.NumField() {
			f := a.Type().Field(i)
			name := optionName(f)
			if name == "" {
				continue
			}
			diffRestart(a.Field(i), b.Field(i), join(path, name), restart || f.Tag.Get("reload") == "restart", changed)
		}
	case !restart:
	case a.Kind() == reflect.Slice && a.Type().Elem().Kind() == reflect.Struct && a.Len() == b.Len():
		for i := range a.Len() {
			diffRestart(a.Index(i), b.Index(i), path+"["+strconv.Itoa(i)+"]", true, changed)
		}
	case !reflect.DeepEqual(a.Interface(), b.Interface()):
		*changed = append(*changed, path)
	}
}
