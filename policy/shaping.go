package policy

import "net/http"

// Per-route shaping of what reaches the origin and what the origin's
// responses carry (request.keep_cookies, request.set_fields,
// response.set_fields, response.remove_fields). config.Parse refuses
// fields whose shaping would break framing, caching or forwarding.

// KeepRequestCookies applies the route's request.keep_cookies to the
// header of a cacheable request, before it is keyed and forwarded: only
// the cookies named stay; with an empty list the Cookie field goes.
// Without keep_cookies h is left alone.
func (rt *Route) KeepRequestCookies(h http.Header) {
	keep := rt.Request.KeepCookies
	if keep == nil || len(h["Cookie"]) == 0 {
		return
	}
	if len(*keep) == 0 {
		delete(h, "Cookie")
		return
	}
	keepCookies(h, *keep)
}

// SetRequestFields sets the route's request.set_fields in the header of a
// request sent to the origin.
func (rt *Route) SetRequestFields(h http.Header) {
	for name, value := range rt.Request.SetFields {
		h[name] = []string{value}
	}
}

// ShapeResponse applies the route's response.remove_fields and then
// response.set_fields to the header of an origin response as it arrives,
// so that the stored entry and every delivery have them.
func (rt *Route) ShapeResponse(h http.Header) {
	for _, name := range rt.Response.RemoveFields {
		delete(h, name)
	}
	for name, value := range rt.Response.SetFields {
		h[name] = []string{value}
	}
}
