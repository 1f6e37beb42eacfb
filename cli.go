package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// What the client commands (purge, stat, log, top, health) share besides
// adminFlags.

// parseCommand parses a client command's arguments and refuses extra
// ones: 0 to go on, else the exit code.
func parseCommand(fs *flag.FlagSet, args []string, stderr io.Writer) int {
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if extra := fs.Args(); len(extra) > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %q\n", fs.Name(), extra)
		return 2
	}
	return 0
}

// usageError prints err as fs's command's and returns the exit code of a
// command given what it cannot use.
func usageError(fs *flag.FlagSet, stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
	return 2
}

// interrupted is a context that ends at SIGINT or SIGTERM.
func interrupted() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// printable replaces the control characters of s by '?'.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return '?'
		}
		return r
	}, s)
}
