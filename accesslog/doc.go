// Package accesslog is what cachegate tells of each request it served: a
// Record, written to the access log (Log: JSON lines or the NCSA combined
// format, on a goroutine of its own, dropping rather than blocking) and
// published to the viewers of the live stream (Hub: a bounded buffer per
// viewer, dropping and counting what does not fit). A request never waits
// on either.
package accesslog
