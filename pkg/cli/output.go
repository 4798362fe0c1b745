package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/yaml"
)

// Output formats understood by -o.
const (
	OutputTable = "table"
	OutputJSON  = "json"
	OutputYAML  = "yaml"
	// OutputHTML is a self-contained page, for reports people look at.
	OutputHTML = "html"
)

// OutputFlags is the -o/--output flag of a command that prints data.
type OutputFlags struct {
	// Format is the chosen format; the first allowed format by default.
	Format string
	// Allowed lists the formats the command supports.
	Allowed []string
}

// NewOutputFlags returns output flags allowing the given formats, the first
// being the default; with none, table, json and yaml are allowed.
func NewOutputFlags(allowed ...string) *OutputFlags {
	if len(allowed) == 0 {
		allowed = []string{OutputTable, OutputJSON, OutputYAML}
	}
	return &OutputFlags{Format: allowed[0], Allowed: allowed}
}

// AddFlags registers -o/--output on cmd, with completion of the allowed values.
func (o *OutputFlags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.Format, "output", "o", o.Format,
		fmt.Sprintf("Output format. One of: (%s).", strings.Join(o.Allowed, ", ")))
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return o.Allowed, cobra.ShellCompDirectiveNoFileComp
	})
}

// Validate rejects a format that is not allowed, naming the allowed ones.
func (o *OutputFlags) Validate() error {
	if !slices.Contains(o.Allowed, o.Format) {
		return fmt.Errorf("invalid value %q for flag -o/--output: allowed values are %s",
			o.Format, strings.Join(o.Allowed, ", "))
	}
	return nil
}

// Print writes v as JSON or YAML, or, for any other format, calls table with
// w (which must then hold the human-readable rendering).
func (o *OutputFlags) Print(w io.Writer, v any, table func(w io.Writer) error) error {
	switch o.Format {
	case OutputJSON:
		return PrintJSON(w, v)
	case OutputYAML:
		return PrintYAML(w, v)
	default:
		return table(w)
	}
}

// PrintJSON writes v as indented JSON followed by a newline.
func PrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	return nil
}

// PrintYAML writes v as YAML, using its JSON field names.
func PrintYAML(w io.Writer, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding YAML: %w", err)
	}
	_, err = w.Write(b)
	return err
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
