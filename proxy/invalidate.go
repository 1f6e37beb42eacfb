package proxy

import (
	"context"
	"net/http"

	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/purge"
)

// invalidateByRules runs the invalidation rules of the request's route
// (config route invalidate, policy.Invalidations) after a 2xx or 3xx
// answer to an unsafe request: the write succeeded, so what the rules
// name is purged through the same purge sequence as the admin API, and
// the answer leaves only when every live instance has applied it (the
// purge waits for them, purge.Purger.Purge). A 4xx or 5xx purges
// nothing: the origin did not change anything.
func (p *Proxy) invalidateByRules(f *fill, resp *http.Response) {
	rt := f.x.route
	if !rt.HasInvalidations() || resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return
	}
	invs, errs := f.x.st.cfg.Invalidations(rt, f.client, f.x.target)
	by := rt.Name + " " + f.client.Method + " " + f.client.Host + f.client.URL.RequestURI()
	for _, err := range errs {
		p.log.Warn("invalidate rule refused", "route", rt.Name, "by", by, "err", err.Error())
		p.metrics.RuleInvalidation(rt.Name, "refused")
	}
	// The audit (purge.Audited) logs each purge once with this source.
	ctx := purge.WithSource(context.WithoutCancel(f.client.Context()), purge.Source{Kind: purge.SourceRule, By: by})
	for _, inv := range invs {
		scopes := ruleScopes(inv)
		if len(scopes) == 0 {
			continue
		}
		res, err := p.purger.Purge(ctx, scopes, inv.Soft)
		if err != nil {
			p.metrics.RuleInvalidation(rt.Name, "failed")
			continue
		}
		p.metrics.RuleInvalidation(rt.Name, "purged")
		for kind, n := range map[string]int{"urls": len(inv.URLs), "prefixes": len(inv.Prefixes), "patterns": len(inv.Patterns), "tags": len(inv.Tags), "widened_patterns": len(res.Widened)} {
			if n > 0 {
				p.metrics.Purge(kind, n)
			}
		}
	}
}

// ruleScopes are the purge scopes of an invalidation.
func ruleScopes(inv policy.Invalidation) []purge.Scope {
	var scopes []purge.Scope
	for _, kind := range []struct {
		kind   purge.Kind
		values []string
	}{{purge.URL, inv.URLs}, {purge.Prefix, inv.Prefixes}, {purge.Pattern, inv.Patterns}, {purge.Tag, inv.Tags}} {
		for _, v := range kind.values {
			scopes = append(scopes, purge.Scope{Kind: kind.kind, Value: v})
		}
	}
	return scopes
}
