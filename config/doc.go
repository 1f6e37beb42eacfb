// Package config is cachegate's configuration: the schema (Config and the
// option types), its loader (Load, Parse), which expands ${ENV} and
// reports every problem with file, line and option, and the defaults of
// every option. Package policy compiles a Config into the rules that
// serve requests.
package config
