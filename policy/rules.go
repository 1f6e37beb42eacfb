package policy

import (
	"fmt"
	"net/netip"

	"github.com/cachegate/cachegate/config"
)

// Rules is a configuration compiled for serving: its routes with their
// matchers compiled, so that matching allocates nothing, and the trusted
// proxies parsed. The Config's options are promoted (rules.Cache.Name).
// Rules is safe for concurrent use and must not be modified.
type Rules struct {
	*config.Config
	// routes are Config.Routes compiled, in order.
	routes []Route
	// defaultRoute is Config.DefaultRoute compiled.
	defaultRoute Route
	// trusted is Config.TrustedProxies parsed.
	trusted []netip.Prefix
}

// Route is a configured route compiled for matching requests and building
// their keys. The options are those of the config.Route it embeds.
type Route struct {
	config.Route
	// match is Match compiled by Compile, so that matching allocates
	// nothing.
	match matcher
	// targets is cache.targeted_fields, copied by Compile; nil (a Route
	// not made by Compile) means config.DefaultTargets.
	targets []string
	// rules are the route's invalidation rules compiled (invalidate.go).
	rules []rule
}

// Compile compiles cfg, a configuration that config.Parse accepted. It
// fails only on a route or trusted proxy that Parse would have refused.
func Compile(cfg *config.Config) (*Rules, error) {
	r := &Rules{Config: cfg, routes: make([]Route, len(cfg.Routes))}
	for i := range cfg.Routes {
		rt, err := compileRoute(cfg.Routes[i], cfg.Cache.TargetedFields)
		if err != nil {
			return nil, fmt.Errorf("policy: routes[%d]: %w", i, err)
		}
		r.routes[i] = rt
	}
	def, err := compileRoute(cfg.DefaultRoute, cfg.Cache.TargetedFields)
	if err != nil {
		return nil, fmt.Errorf("policy: default_route: %w", err)
	}
	r.defaultRoute = def
	for i, s := range cfg.TrustedProxies {
		prefix, err := config.ParseTrustedProxy(s)
		if err != nil {
			return nil, fmt.Errorf("policy: trusted_proxies[%d]: %q: %w", i, s, err)
		}
		r.trusted = append(r.trusted, prefix)
	}
	return r, nil
}

// compileRoute compiles one route; targets are cache.targeted_fields.
func compileRoute(c config.Route, targets []string) (Route, error) {
	m, err := compileMatch(c.Match, c.Bypass)
	if err != nil {
		return Route{}, fmt.Errorf("match: %w", err)
	}
	rules, err := compileRules(c.Invalidate)
	if err != nil {
		return Route{}, err
	}
	return Route{Route: c, match: m, targets: targets, rules: rules}, nil
}
