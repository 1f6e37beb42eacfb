package config

import (
	"fmt"
	"strings"
	"text/template"
)

// parseTemplate parses one webhook template; name is its option path, which
// execution errors then quote. A key missing from the payload is an error
// rather than "<no value>", so that a payload of the wrong shape purges
// nothing instead of a wrong tag.
func parseTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Parse(text)
}

// Render executes every template of w against payload, the decoded JSON
// body of a webhook request (usually a map[string]any). Each result is
// split on white space, so one template may yield several values or none.
// Render fails on the first template that fails to execute.
func (w *Webhook) Render(payload any) (tags, urls, prefixes []string, err error) {
	if tags, err = render(w.tagTemplates, payload); err != nil {
		return nil, nil, nil, fmt.Errorf("webhook %s: %w", w.Name, err)
	}
	if urls, err = render(w.urlTemplates, payload); err != nil {
		return nil, nil, nil, fmt.Errorf("webhook %s: %w", w.Name, err)
	}
	if prefixes, err = render(w.prefixTemplates, payload); err != nil {
		return nil, nil, nil, fmt.Errorf("webhook %s: %w", w.Name, err)
	}
	return tags, urls, prefixes, nil
}

// RenderPatterns executes the pattern templates of w against payload, as
// Render does the others. A payload value is inserted as it is: a
// webhook is signed by its CMS, which is trusted to name what it purges.
func (w *Webhook) RenderPatterns(payload any) ([]string, error) {
	patterns, err := render(w.patternTemplates, payload)
	if err != nil {
		return nil, fmt.Errorf("webhook %s: %w", w.Name, err)
	}
	return patterns, nil
}

func render(templates []*template.Template, payload any) ([]string, error) {
	var out []string
	var b strings.Builder
	for _, t := range templates {
		b.Reset()
		if err := t.Execute(&b, payload); err != nil {
			return nil, err
		}
		out = append(out, strings.Fields(b.String())...)
	}
	return out, nil
}
