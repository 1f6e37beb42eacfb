package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
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
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.File)
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
	}
	return b.String()
}

// Load reads the configuration file at path and parses it with Parse; the
// returned Config's File is path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	cfg.File = path
	return cfg, nil
}

// Parse reads a configuration from data; file names it in errors. Scalar
// values first have ${NAME} and ${NAME:-default} replaced from the
// environment (":-" also applies when NAME is set but empty; "$${" writes a
// literal "${"). Expansion happens per value, after the YAML structure is
// read, so a variable can neither add options nor break the syntax, and
// comments are left alone. Then options are decoded strictly (an unknown
// option is an error), checked, and the defaults documented on Config are
// filled in. Every problem found is reported, in a *ConfigError.
func Parse(file string, data []byte) (*Config, error) {
	p := &parser{
		file:    file,
		keyLine: map[string]int{},
		line:    map[string]int{},
		set:     map[string]bool{},
		bad:     map[string]bool{},
	}
	cfg := &Config{}
	root := p.document(data)
	if root != nil {
		p.decode(root, reflect.ValueOf(cfg).Elem(), "")
	}
	if len(p.problems) == 0 || root != nil {
		p.validate(cfg) // not after a syntax error: the file was not read
	}
	if len(p.problems) > 0 {
		slices.SortStableFunc(p.problems, func(a, b Problem) int { return a.Line - b.Line })
		return nil, &ConfigError{File: file, Problems: p.problems}
	}
	p.applyDefaults(cfg)
	for i := range cfg.Routes {
		compileKey(&cfg.Routes[i].KeyOptions)
	}
	compileKey(&cfg.DefaultRoute.KeyOptions)
	return cfg, nil
}

// parser decodes a YAML node tree into Config, remembering where each
// option was written and collecting problems.
type parser struct {
	file     string
	problems []Problem
	keyLine  map[string]int  // option path → line of its key
	line     map[string]int  // option path → line of its value
	set      map[string]bool // option path → written with a non-null value
	bad      map[string]bool // option path → already has a problem
}

func (p *parser) add(line int, option, format string, args ...any) {
	p.problems = append(p.problems, Problem{Line: line, Option: option, Message: fmt.Sprintf(format, args...)})
	p.bad[option] = true
}

// lineOf returns the line where option was written or, when it was not,
// the line of its closest written parent.
func (p *parser) lineOf(option string) int {
	for {
		if l, ok := p.keyLine[option]; ok {
			return l
		}
		if l, ok := p.line[option]; ok {
			return l
		}
		i := strings.LastIndexAny(option, ".[")
		if i < 0 {
			if l, ok := p.line[""]; ok {
				return l
			}
			return 1
		}
		option = option[:i]
	}
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

// decode sets v from n; path is v's option path.
func (p *parser) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if _, ok := p.line[path]; !ok {
		p.line[path] = n.Line
	}
	if n.Kind == yaml.ScalarNode {
		if n = p.expand(n, path); n == nil {
			return
		}
	}
	if isNull(n) {
		return
	}
	p.set[path] = true
	p.value(n, v, path)
}

// value sets v from n, a node that is not null and whose scalar value is
// already expanded; path is v's option path.
func (p *parser) value(n *yaml.Node, v reflect.Value, path string) {
	if v.Addr().Type().Implements(unmarshalerType) {
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			p.add(n.Line, path, "%s", err.Error())
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			p.add(n.Line, path, "expected a mapping of options, got %s", describe(n))
			return
		}
		p.mapping(n, v, path, map[string]int{}, map[*yaml.Node]bool{})
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			p.add(n.Line, path, "expected a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			p.decode(c, s.Index(i), path+"["+strconv.Itoa(i)+"]")
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			p.add(n.Line, path, "expected a string, got %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			p.add(n.Line, path, "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int:
		var i int64
		if n.Kind != yaml.ScalarNode || n.Decode(&i) != nil || v.OverflowInt(i) {
			p.add(n.Line, path, "expected an integer, got %s", describe(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || n.Decode(&f) != nil {
			p.add(n.Line, path, "expected a number, got %s", describe(n))
			return
		}
		v.SetFloat(f)
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		p.value(n, e.Elem(), path)
		v.Set(e)
	default:
		panic("config: no decoder for " + v.Type().String())
	}
}

// mapping sets the fields of struct v from the mapping n. seen holds the
// options already set (name → line). merged holds the mappings of this
// struct already read: n itself, and those "<<" merges brought in, whose
// keys yield to those written explicitly (YAML merge keys); each is read
// once, so a merge that refers to itself ends.
func (p *parser) mapping(n *yaml.Node, v reflect.Value, path string, seen map[string]int, merged map[*yaml.Node]bool) {
	inMerge := len(merged) > 0
	merged[n] = true
	fields := fieldsOf(v.Type())
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.add(k.Line, path, "option names must be plain words, got %s", describe(k))
			continue
		}
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			merges = append(merges, val)
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
			continue
		}
		seen[k.Value] = k.Line
		p.keyLine[option] = k.Line
		p.decode(val, v.Field(f), option)
	}
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
				p.mapping(each, v, path, seen, merged)
			}
		}
	}
}

// fieldsOf maps the YAML option names of struct type t to field indexes.
func fieldsOf(t reflect.Type) map[string]int {
	fields := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		fields[name] = i
	}
	return fields
}

// suggest returns ` (did you mean "x"?)` for the known option closest to
// name, when one is close enough to be a typo.
func suggest(name string, fields map[string]int) string {
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

// expand returns n with environment variables expanded in its value (a
// copy when anything changed), or nil after recording a problem.
func (p *parser) expand(n *yaml.Node, path string) *yaml.Node {
	if !strings.Contains(n.Value, "$") {
		return n
	}
	s, err := expandEnv(n.Value)
	if err != nil {
		p.add(n.Line, path, "%s", err.Error())
		return nil
	}
	if s == n.Value {
		return n
	}
	c := *n
	c.Value = s
	quoted := yaml.TaggedStyle | yaml.SingleQuotedStyle | yaml.DoubleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle
	if c.Style&quoted == 0 {
		c.Tag = "" // a plain scalar: resolve its type from the expanded value
	}
	return &c
}

// expandEnv replaces ${NAME} and ${NAME:-default} in s from the
// environment; "$${" stands for a literal "${".
func expandEnv(s string) (string, error) {
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
