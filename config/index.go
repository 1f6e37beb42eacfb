package config

import "strings"

// index records where each option of a file was written, by option path
// ("routes[1].ttl"), so that a problem found after decoding still names
// its line. An empty index (a Config built in code) gives line 0.
type index struct {
	keyLine map[string]int  // option path → line of its key
	line    map[string]int  // option path → line of its value
	set     map[string]bool // option path → written with a value
	bad     map[string]bool // option path → already has a problem
}

func newIndex() *index {
	return &index{keyLine: map[string]int{}, line: map[string]int{}, set: map[string]bool{}, bad: map[string]bool{}}
}

// lineOf returns the line where option was written or, when it was not,
// the line of its closest written parent; 0 when nothing was written.
func (x *index) lineOf(option string) int {
	for {
		if l, ok := x.keyLine[option]; ok {
			return l
		}
		if l, ok := x.line[option]; ok {
			return l
		}
		i := strings.LastIndexAny(option, ".[")
		if i < 0 {
			return x.line[""]
		}
		option = option[:i]
	}
}

// badAt reports whether option or one of its parents has a problem.
func (x *index) badAt(option string) bool {
	for {
		if x.bad[option] {
			return true
		}
		i := strings.LastIndexAny(option, ".[")
		if i < 0 {
			return false
		}
		option = option[:i]
	}
}
