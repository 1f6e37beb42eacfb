package policy

import (
	"mime"
	"net/http"
	"slices"
	"strings"
)

// Cache-deception armour. A route that matches by file extension
// ("/static/**.css") is written for static files, and is often given a long
// TTL and no regard for cookies. An origin that ignores what follows a
// known path ("/account/x.css" answered by the /account page, as many
// frameworks' routers do) would then have a logged-in page stored and
// served to everyone. Such a route stores a response only when its
// Content-Type fits the extension the route matches.

// extensionTypes maps a file extension to the media types a response for
// it may have. Types that servers commonly send for the extension are
// listed, so that a correct origin is never refused; text/html is never one
// of them.
var extensionTypes = map[string][]string{
	"css":   {"text/css"},
	"js":    {"text/javascript", "application/javascript", "application/x-javascript", "application/ecmascript", "text/ecmascript"},
	"mjs":   {"text/javascript", "application/javascript"},
	"map":   {"application/json", "application/octet-stream"},
	"json":  {"application/json", "application/manifest+json", "application/ld+json"},
	"png":   {"image/png"},
	"apng":  {"image/apng", "image/png"},
	"jpg":   {"image/jpeg", "image/pjpeg"},
	"jpeg":  {"image/jpeg", "image/pjpeg"},
	"gif":   {"image/gif"},
	"webp":  {"image/webp"},
	"avif":  {"image/avif"},
	"svg":   {"image/svg+xml"},
	"ico":   {"image/x-icon", "image/vnd.microsoft.icon"},
	"bmp":   {"image/bmp", "image/x-ms-bmp"},
	"woff":  {"font/woff", "application/font-woff", "application/x-font-woff"},
	"woff2": {"font/woff2", "application/font-woff2"},
	"ttf":   {"font/ttf", "font/sfnt", "application/x-font-ttf", "application/font-sfnt"},
	"otf":   {"font/otf", "font/sfnt", "application/x-font-opentype", "application/font-sfnt"},
	"eot":   {"application/vnd.ms-fontobject"},
	"mp4":   {"video/mp4"},
	"webm":  {"video/webm", "audio/webm"},
	"mp3":   {"audio/mpeg"},
	"ogg":   {"audio/ogg", "video/ogg", "application/ogg"},
	"wasm":  {"application/wasm"},
	"pdf":   {"application/pdf"},
	"txt":   {"text/plain"},
	"xml":   {"application/xml", "text/xml"},
	"zip":   {"application/zip"},
	"gz":    {"application/gzip", "application/x-gzip"},
}

// matchedExtension is the file extension a path pattern matches, lower-
// case, when the pattern is a glob whose last segment ends in ".EXT" with
// EXT in extensionTypes ("/static/**.css", "/img/*.png"); else "".
func matchedExtension(pattern string) string {
	if !strings.ContainsAny(pattern, "*?[") {
		return ""
	}
	last := pattern[strings.LastIndexByte(pattern, '/')+1:]
	i := strings.LastIndexByte(last, '.')
	if i < 0 {
		return ""
	}
	ext := strings.ToLower(last[i+1:])
	if _, ok := extensionTypes[ext]; !ok {
		return ""
	}
	return ext
}

// ContentTypeFits reports whether a response with header h may be stored
// for a route that matches files with extension ext: its Content-Type is
// one extensionTypes lists for ext. A missing or unparsable Content-Type
// does not fit.
func ContentTypeFits(ext string, h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return false
	}
	return slices.Contains(extensionTypes[ext], mt)
}

// deceptionExtension is the extension whose media types the route's
// responses must have to be stored, or "" when the route does not match by
// extension or sets deception_check: false.
func (rt *Route) deceptionExtension() string {
	if rt.DeceptionCheck != nil && !*rt.DeceptionCheck {
		return ""
	}
	if rt.match.compiled {
		return rt.match.ext
	}
	return matchedExtension(rt.Match.Path)
}
