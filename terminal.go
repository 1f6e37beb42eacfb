package main

import (
	"io"
	"os"
	"strings"
)

// isTerminal reports whether w is a terminal (a character device), where
// the live commands (stat, top) redraw their view in place; elsewhere they
// print a block of lines per interval.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// redraw writes text over the previous screen: cursor home, each line
// cleared to its end, and the rest of the screen cleared, so that the view
// is redrawn in place without flicker. Plain ANSI, no terminal library.
func redraw(w io.Writer, text string) error {
	var b strings.Builder
	b.WriteString("\x1b[H")
	for line := range strings.Lines(text) {
		b.WriteString(strings.TrimSuffix(line, "\n") + "\x1b[K\n")
	}
	b.WriteString("\x1b[J")
	_, err := io.WriteString(w, b.String())
	return err
}
