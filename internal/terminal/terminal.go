// Package terminal writes for people at a terminal: colour only where it is
// one, and tables as kubectl prints them, escaped.
package terminal

import (
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/cli-runtime/pkg/printers"

	"golang.org/x/term"
)

// ColorEnabled reports whether w should get ANSI colour: only when it is a
// terminal, NO_COLOR is unset and TERM is not "dumb".
func ColorEnabled(w io.Writer) bool {
	if _, ok := os.LookupEnv("NO_COLOR"); ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	return IsTerminal(w)
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Colorizer wraps text in ANSI colours, or leaves it as it is when disabled.
type Colorizer struct {
	// Enabled turns colour on.
	Enabled bool
}

// ANSI colour codes used by reports.
const (
	Red    = "31"
	Green  = "32"
	Yellow = "33"
)

// Paint returns s in the given colour when enabled.
func (c Colorizer) Paint(color, s string) string {
	if !c.Enabled {
		return s
	}
	return "\x1b[" + color + "m" + s + "\x1b[0m"
}

// Table writes rows as kubectl does: upper-case headers, columns aligned with
// spaces. Cells are escaped so that text from a cluster cannot send terminal
// control sequences.
func Table(w io.Writer, headers []string, rows [][]string) error {
	tw := printers.GetNewTabWriter(w)
	upper := make([]string, len(headers))
	for i, h := range headers {
		upper[i] = strings.ToUpper(h)
	}
	fmt.Fprintln(tw, strings.Join(upper, "\t"))
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = printers.EscapeTerminal(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}
