package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/template"

	"github.com/spf13/cobra"
	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/yaml"
)

// Output formats understood by -o.
const (
	OutputTable = "table"
	OutputJSON  = "json"
	OutputYAML  = "yaml"
	// OutputHTML is a self-contained page, for reports people look at.
	OutputHTML = "html"
	// OutputJSONPath is -o jsonpath=TEMPLATE, as kubectl's: the template
	// (e.g. {.items[*].name}) applied to the JSON data.
	OutputJSONPath = "jsonpath"
	// OutputGoTemplate is -o go-template=TEMPLATE, as kubectl's: a Go
	// template applied to the JSON data.
	OutputGoTemplate = "go-template"
	// OutputName is -o name, as kubectl's: resource.group/name, a line per
	// object; for commands that list objects (PrintList).
	OutputName = "name"
)

// OutputFlags is the -o/--output flag of a command that prints data.
type OutputFlags struct {
	// Format is the chosen format; the first allowed format by default.
	Format string
	// Allowed lists the formats the command supports.
	Allowed []string

	// template is the parsed template of a jsonpath or go-template format.
	template interface{ Execute(io.Writer, any) error }
}

// NewOutputFlags returns output flags allowing the given formats, the first
// being the default; with none, table, json, yaml, jsonpath and
// go-template are allowed.
func NewOutputFlags(allowed ...string) *OutputFlags {
	if len(allowed) == 0 {
		allowed = []string{OutputTable, OutputJSON, OutputYAML, OutputJSONPath, OutputGoTemplate}
	}
	return &OutputFlags{Format: allowed[0], Allowed: allowed}
}

// help lists the allowed formats as -o takes them.
func (o *OutputFlags) help() string {
	names := make([]string, len(o.Allowed))
	for i, f := range o.Allowed {
		names[i] = f
		if f == OutputJSONPath || f == OutputGoTemplate {
			names[i] = f + "=TEMPLATE"
		}
	}
	return strings.Join(names, ", ")
}

// AddFlags registers -o/--output on cmd, with completion of the allowed values.
func (o *OutputFlags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.Format, "output", "o", o.Format,
		fmt.Sprintf("Output format. One of: (%s).", o.help()))
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return o.Allowed, cobra.ShellCompDirectiveNoFileComp
	})
}

// Validate rejects a format that is not allowed, naming the allowed ones,
// and a template that does not parse.
func (o *OutputFlags) Validate() error {
	name, text, isTemplate := strings.Cut(o.Format, "=")
	if !slices.Contains(o.Allowed, name) || (isTemplate != (name == OutputJSONPath || name == OutputGoTemplate)) {
		return fmt.Errorf("invalid value %q for flag -o/--output: allowed values are %s", o.Format, o.help())
	}
	switch name {
	case OutputJSONPath:
		p := jsonpath.New("output")
		if err := p.Parse(relaxedJSONPath(text)); err != nil {
			return fmt.Errorf("flag -o/--output: jsonpath template %q: %w", text, err)
		}
		o.template = p
	case OutputGoTemplate:
		t, err := template.New("output").Parse(text)
		if err != nil {
			return fmt.Errorf("flag -o/--output: go-template %q: %w", text, err)
		}
		o.template = t
	}
	return nil
}

// relaxedJSONPath accepts a template without braces, as kubectl does:
// .items[0].name is {.items[0].name}.
func relaxedJSONPath(text string) string {
	if strings.HasPrefix(text, "{") {
		return text
	}
	return "{." + strings.TrimPrefix(text, ".") + "}"
}

// Print writes v as JSON or YAML, through the template of a jsonpath or
// go-template format (applied to v's JSON, as kubectl does), or, for any
// other format, calls table with w (which must then hold the
// human-readable rendering). Validate must have accepted the format.
func (o *OutputFlags) Print(w io.Writer, v any, table func(w io.Writer) error) error {
	if o.template != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding JSON: %w", err)
		}
		var data any
		if err := json.Unmarshal(b, &data); err != nil {
			return fmt.Errorf("decoding JSON: %w", err)
		}
		if err := o.template.Execute(w, data); err != nil {
			return fmt.Errorf("flag -o/--output: %s: %w", o.Format, err)
		}
		return nil
	}
	switch o.Format {
	case OutputJSON:
		return PrintJSON(w, v)
	case OutputYAML:
		return PrintYAML(w, v)
	default:
		return table(w)
	}
}

// PrintList is Print for a list of objects of resource (e.g.
// routes.iter8.tools, written route.iter8.tools as kubectl's singular
// names): -o name writes each object as resource/name, a line each.
func (o *OutputFlags) PrintList(w io.Writer, v any, resource string, names []string, table func(w io.Writer) error) error {
	if o.Format == OutputName {
		for _, n := range names {
			if _, err := fmt.Fprintf(w, "%s/%s\n", resource, n); err != nil {
				return err
			}
		}
		return nil
	}
	return o.Print(w, v, table)
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
