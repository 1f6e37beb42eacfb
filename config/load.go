package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ConfigError lists every problem found in a configuration file.
type ConfigError struct {
	// File is the file name the problems refer to.
	File string
	// Problems are ordered by line.
	Problems []Problem
}

// Problem is one thing wrong in a configuration file.
type Problem struct {
	// Line is the 1-based line of the problem, 0 when it has none.
	Line int
	// Option is the dotted path of the option, with [i] indexes, e.g.
	// "routes[1].ttl"; "" when the problem is not about one option.
	Option string
	// Message says what is wrong.
	Message string
}

// Error prints one problem per line as "FILE:LINE: OPTION: MESSAGE".
func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.In(e.File)
	}
	return strings.Join(lines, "\n")
}

// In prints the problem as found in file: "FILE:LINE: OPTION: MESSAGE".
func (p Problem) In(file string) string {
	var b strings.Builder
	b.WriteString(file)
	if p.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.Option != "" {
		b.WriteString(p.Option)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Load reads the configuration file at path and parses it with Parse; the
// returned Config's File is path.
func Load(path string) (*Config, error) { return load(path, nil) }

// Parse reads a configuration from data; file names it in errors. Scalar
// values first have ${NAME} and ${NAME:-default} replaced from the
// environment (":-" also applies when NAME is set but empty; "$${" writes a
// literal "${"). Expansion happens per value, after the YAML structure is
// read, so a variable can neither add options nor break the syntax, and
// comments are left alone. The options are then checked against the
// schema (an unknown option is an error), decoded by yaml.v3 over
// Default() (anchors, aliases and merge keys as yaml.v3 reads them), and
// validated. Every problem found is reported, in a *ConfigError.
func Parse(file string, data []byte) (*Config, error) {
	cfg, _, err := parse(file, data, nil)
	return cfg, err
}

// LoadFor reads the configuration file at path for a program that reads
// only the given options (dotted paths, e.g. "admin.listen" and
// "admin.token" for the admin client commands), not to run the server
// with it. A command run beside the server then needs neither the
// server's secrets nor a file that is valid everywhere: an environment
// variable that is not set stands for "" and is an error only in one of
// options (or under it), reported as "FILE:LINE: OPTION: environment
// variable NAME is not set"; problems of the other options are ignored,
// those of the file's syntax are not. The Config returned is only good for
// options.
func LoadFor(path string, options ...string) (*Config, error) {
	if options == nil {
		options = []string{} // not nil: parse for no option at all
	}
	return load(path, options)
}

// load reads and parses the file at path, for only those options when
// only is not nil (see parse).
func load(path string, only []string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, _, err := parse(path, data, only)
	if err != nil {
		return nil, err
	}
	cfg.File = path
	return cfg, nil
}

// unsetVariable is an environment variable that was not set, in the
// option it was written in, when parsing for some options only.
type unsetVariable struct {
	name   string
	line   int
	option string
}

// parse is Parse, also returning where each option was written. When
// only is not nil, it parses for those options only (see LoadFor).
func parse(file string, data []byte, only []string) (*Config, *index, error) {
	p := &parser{file: file, index: newIndex(), expanded: map[*yaml.Node]bool{}, lenient: only != nil}
	root := p.document(data)
	cfg := Default()
	if root != nil {
		p.walk(root, reflect.TypeFor[Config](), "")
	} else {
		p.line[""] = 1 // an empty file: problems are on its first line
	}
	if root != nil && !p.bad[""] {
		if err := root.Decode(cfg); err != nil {
			p.add(root.Line, "", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
	}
	if len(p.problems) == 0 || root != nil {
		// Not after a syntax error: the file was not read.
		cfg.resolvePaths(filepath.Dir(file))
		cfg.complete(p.index)
		p.problems = append(p.problems, cfg.validate(p.index)...)
	}
	if only != nil {
		p.problems = problemsFor(only, p.problems, p.unset)
	}
	if len(p.problems) > 0 {
		slices.SortStableFunc(p.problems, func(a, b Problem) int { return a.Line - b.Line })
		return nil, nil, &ConfigError{File: file, Problems: p.problems}
	}
	cfg.Warnings = cfg.warnings(p.index)
	return cfg, p.index, nil
}

// problemsFor keeps, of the problems of a file read for the options only,
// those that concern them: a variable not set in one of them (instead of
// what validation said of its empty value), their other problems, and
// those that are about no option (the file's syntax).
func problemsFor(only []string, problems []Problem, unset []unsetVariable) []Problem {
	concerns := func(option string) bool {
		return slices.ContainsFunc(only, func(o string) bool {
			return option == o || strings.HasPrefix(option, o+".") || strings.HasPrefix(option, o+"[")
		})
	}
	var kept []Problem
	unsetIn := map[string]bool{}
	for _, u := range unset {
		if concerns(u.option) {
			unsetIn[u.option] = true
			kept = append(kept, Problem{Line: u.line, Option: u.option,
				Message: fmt.Sprintf("environment variable %s is not set (write ${%s:-default} to give a default)", u.name, u.name)})
		}
	}
	for _, pr := range problems {
		if pr.Option == "" || concerns(pr.Option) && !unsetIn[pr.Option] {
			kept = append(kept, pr)
		}
	}
	return kept
}

// resolvePaths makes the relative certificate and CA file names of c
// relative to dir, the directory of the config file, so that they do not
// depend on where cachegate is started from.
func (c *Config) resolvePaths(dir string) {
	resolve := func(name *string) {
		if *name != "" && !filepath.IsAbs(*name) {
			*name = filepath.Join(dir, *name)
		}
	}
	for i := range c.TLS.Certificates {
		resolve(&c.TLS.Certificates[i].CertFile)
		resolve(&c.TLS.Certificates[i].KeyFile)
	}
	resolve(&c.TLS.ACME.CARoot)
	if c.AccessLog.IsFile() {
		resolve(&c.AccessLog.Output)
	}
	resolve(&c.Store.Redis.TLS.CAFile)
	for i := range c.Backends {
		t := &c.Backends[i].TLS
		resolve(&t.CAFile)
		resolve(&t.CertFile)
		resolve(&t.KeyFile)
	}
}

// parser checks a YAML node tree against the schema of Config before
// yaml.v3 decodes it, so that each problem is reported with its line and
// option path, and records in index where each option was written.
type parser struct {
	file     string
	problems []Problem
	*index
	// expanded holds the scalars whose environment variables are already
	// expanded: a node reached through several aliases is expanded once.
	expanded map[*yaml.Node]bool
	// lenient expands a variable that is not set to "" and records it in
	// unset, instead of reporting a problem (see LoadFor).
	lenient bool
	unset   []unsetVariable
}

func (p *parser) add(line int, option, format string, args ...any) {
	p.problems = append(p.problems, Problem{Line: line, Option: option, Message: fmt.Sprintf(format, args...)})
	p.bad[option] = true
}

var yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses data into the node of its single document, or returns
// nil (having recorded a problem) when data is not valid YAML or empty.
func (p *parser) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			p.syntax(err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		p.add(extra.Line, "", "only one YAML document is allowed")
		return nil
	case !errors.Is(err, io.EOF):
		p.syntax(err)
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil
	}
	return doc.Content[0]
}

func (p *parser) syntax(err error) {
	msg := err.Error()
	if m := yamlLineError.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.add(line, "", "%s", m[2])
		return
	}
	p.add(0, "", "%s", strings.TrimPrefix(msg, "yaml: "))
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// walk checks n against type t, the type of the option at path, expanding
// environment variables in its scalars. It reports whether n is to be
// decoded: written (not null) and without a problem. What is not is
// removed from the tree, so that the option keeps its default and the
// rest of the file is still decoded and validated: every problem is
// reported at once.
func (p *parser) walk(n *yaml.Node, t reflect.Type, path string) bool {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if _, ok := p.line[path]; !ok {
		p.line[path] = n.Line
	}
	if n.Kind == yaml.ScalarNode && !p.expand(n, path) {
		return false
	}
	if isNull(n) {
		return false
	}
	p.set[path] = true
	p.check(n, t, path)
	return !p.bad[path]
}

// check reports a problem when n, a node that is not null and whose scalar
// value is expanded, cannot be decoded into type t; path is its option.
func (p *parser) check(n *yaml.Node, t reflect.Type, path string) {
	switch {
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			p.add(n.Line, path, "expected a mapping of options, got %s", describe(n))
			return
		}
		p.mapping(n, t, path, map[string]int{}, map[*yaml.Node]bool{})
		return
	case reflect.PointerTo(t).Implements(unmarshalerType):
		if err := reflect.New(t).Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			p.add(n.Line, path, "%s", err.Error())
		}
		return
	}
	switch t.Kind() {
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			p.add(n.Line, path, "expected a list, got %s", describe(n))
			return
		}
		for i, c := range n.Content {
			if !p.walk(c, t.Elem(), path+"["+strconv.Itoa(i)+"]") {
				n.Content[i] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: c.Line, Column: c.Column}
			}
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			p.add(n.Line, path, "expected a string, got %s", describe(n))
		}
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			p.add(n.Line, path, "expected true or false, got %s%s", describe(n), quotedBoolHint(n))
		}
	case reflect.Int:
		var i int64
		if n.Kind != yaml.ScalarNode || n.Decode(&i) != nil || reflect.New(t).Elem().OverflowInt(i) {
			p.add(n.Line, path, "expected an integer, got %s", describe(n))
		}
	case reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || n.Decode(&f) != nil {
			p.add(n.Line, path, "expected a number, got %s", describe(n))
		}
	case reflect.Pointer:
		p.check(n, t.Elem(), path)
	case reflect.Map:
		p.fieldMap(n, t, path)
	default:
		panic("config: no check for " + t.String())
	}
}

// quotedBoolHint explains why a quoted "true" or "false" is refused: YAML
// reads it as a string, not a boolean.
func quotedBoolHint(n *yaml.Node) string {
	quoted := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
	if n.Kind != yaml.ScalarNode || !quoted {
		return ""
	}
	if v := strings.ToLower(n.Value); v != "true" && v != "false" {
		return ""
	}
	return " (a quoted value is a string: write " + strings.ToLower(n.Value) + " without quotes)"
}

// fieldMap checks a map of header field names to values (set_fields, the
// only maps): each value is checked as t's element, and a name written
// twice in any spelling is refused. Each entry is indexed by its
// canonical name, which validation reports.
func (p *parser) fieldMap(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		p.add(n.Line, path, "expected a mapping of header fields to values, got %s", describe(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.add(k.Line, path, "field names must be plain words, got %s", describe(k))
			continue
		}
		name := http.CanonicalHeaderKey(k.Value)
		option := path + "." + name
		if first, dup := seen[name]; dup {
			p.add(k.Line, option, "set twice (first on line %d)", first)
			continue
		}
		seen[name] = k.Line
		p.keyLine[option] = k.Line
		p.walk(val, t.Elem(), option)
	}
}

// mapping checks the options of struct type t in the mapping n. seen holds
// the options already set (name → line). merged holds the mappings of
// this struct already read: n itself, and those "<<" merges brought in,
// whose keys yield to those written explicitly (YAML merge keys); each is
// read once, so a merge that refers to itself ends. Options written null,
// or as an empty string where an empty string means the default, are
// removed from n, so that the decoder leaves their defaults alone.
func (p *parser) mapping(n *yaml.Node, t reflect.Type, path string, seen map[string]int, merged map[*yaml.Node]bool) {
	inMerge := len(merged) > 0
	merged[n] = true
	fields := fieldsOf(t)
	var merges []*yaml.Node
	kept := n.Content[:0:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.add(k.Line, path, "option names must be plain words, got %s", describe(k))
			continue
		}
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			merges = append(merges, val)
			kept = append(kept, k, val)
			continue
		}
		option := join(path, k.Value)
		f, ok := fields[k.Value]
		if !ok {
			p.add(k.Line, option, "unknown option%s", suggest(k.Value, fields))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			if !inMerge {
				p.add(k.Line, option, "set twice (first on line %d)", first)
			}
			// A merged mapping may be an anchor read elsewhere too.
			kept = append(kept, k, val)
			continue
		}
		seen[k.Value] = k.Line
		p.keyLine[option] = k.Line
		if p.walk(val, f.Type, option) && !emptyMeansDefault(val, f) {
			kept = append(kept, k, val)
		} else {
			delete(p.set, option)
		}
	}
	n.Content = kept
	for _, m := range merges {
		if m.Kind == yaml.AliasNode && m.Alias != nil {
			m = m.Alias
		}
		list := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			list = m.Content
		}
		for _, each := range list {
			if each.Kind == yaml.AliasNode && each.Alias != nil {
				each = each.Alias
			}
			if each.Kind != yaml.MappingNode {
				p.add(each.Line, path, "a merge (<<) needs a mapping, got %s", describe(each))
				continue
			}
			if !merged[each] {
				p.mapping(each, t, path, seen, merged)
			}
		}
	}
}

// emptyMeansDefault reports whether val, the value of field f, is an
// empty string that leaves the option at its default (see Config).
func emptyMeansDefault(val *yaml.Node, f reflect.StructField) bool {
	if val.Kind == yaml.AliasNode && val.Alias != nil {
		val = val.Alias
	}
	return f.Type.Kind() == reflect.String && val.Kind == yaml.ScalarNode && val.Value == "" &&
		f.Tag.Get("empty") != "keep"
}

// fieldsOf maps the YAML option names of struct type t to its fields.
func fieldsOf(t reflect.Type) map[string]reflect.StructField {
	fields := make(map[string]reflect.StructField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if name := optionName(f); name != "" {
			fields[name] = f
		}
	}
	return fields
}

// optionName is the YAML name of field f, or "" when f is no option.
func optionName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if !f.IsExported() || name == "-" {
		return ""
	}
	return name
}

// suggest returns ` (did you mean "x"?)` for the known option closest to
// name, when one is close enough to be a typo.
func suggest(name string, fields map[string]reflect.StructField) string {
	best, bestDist := "", 3
	for known := range fields {
		if d := editDistance(name, known); d < bestDist || d == bestDist && known < best {
			best, bestDist = known, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// expand replaces the environment variables in the value of the scalar n,
// in place and once, and reports whether that succeeded (a problem is
// recorded when not). A plain scalar's type is then resolved from the
// expanded value, so that ${PORT} can be a number.
func (p *parser) expand(n *yaml.Node, path string) bool {
	if p.expanded[n] || !strings.Contains(n.Value, "$") {
		return true
	}
	var unset func(name string)
	if p.lenient {
		unset = func(name string) {
			p.unset = append(p.unset, unsetVariable{name: name, line: n.Line, option: path})
		}
	}
	s, err := expandEnv(n.Value, unset)
	if err != nil {
		p.add(n.Line, path, "%s", err.Error())
		return false
	}
	p.expanded[n] = true
	if s == n.Value {
		return true
	}
	n.Value = s
	quoted := yaml.TaggedStyle | yaml.SingleQuotedStyle | yaml.DoubleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle
	if n.Style&quoted == 0 {
		n.Tag = "" // a plain scalar: resolve its type from the expanded value
	}
	return true
}

// expandEnv replaces ${NAME} and ${NAME:-default} in s from the
// environment; "$${" stands for a literal "${". A variable that is not set
// (and has no default) is an error, unless unset is not nil: it is then
// told the name, and the variable stands for "".
func expandEnv(s string, unset func(name string)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", errors.New(`unterminated "${" (write "$${" for a literal "${")`)
		}
		expr := s[i+2 : i+2+end]
		s = s[i+3+end:]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validEnvName(name) {
			return "", fmt.Errorf("invalid environment variable name %q in ${%s}", name, expr)
		}
		val, ok := os.LookupEnv(name)
		switch {
		case hasDef && val == "":
			val = def
		case !ok && unset != nil:
			unset(name)
		case !ok:
			return "", fmt.Errorf("environment variable %s is not set (write ${%s:-default} to give a default)", name, name)
		}
		b.WriteString(val)
	}
}

func validEnvName(name string) bool {
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
