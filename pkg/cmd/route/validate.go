package route

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/iter8-tools/iter8/pkg/render"
	"github.com/iter8-tools/iter8/pkg/route"
)

// ValidateOptions are the options of validate.
type ValidateOptions struct {
	genericiooptions.IOStreams
	// File is the Route file (-f).
	File string
}

// NewValidateCommand returns the validate command.
func NewValidateCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &ValidateOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "validate -f route.yaml",
		Short: "Check a Route file and report every problem with its line and field",
		Long: `Check a Route file as strictly as the API server and the renderers do: unknown
fields, wrong types, the CRD's rules, and strategies the provider cannot render.
Every problem is reported at once, with its line and field path, and the exit code
is 1. A valid Route prints the traffic each version would get.`,
		Example: `  kubectl iter8-route validate -f route.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.File, "filename", "f", "", "Route file")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	return cmd
}

// Validate checks the flags.
func (o *ValidateOptions) Validate() error {
	if o.File == "" {
		return errors.New("flag -f/--filename is required: the Route file to check")
	}
	return nil
}

// Run checks the file.
func (o *ValidateOptions) Run(context.Context) error {
	r, err := route.ReadFile(o.File)
	if err != nil {
		return err
	}
	d := r.DeepCopy()
	if d.Namespace == "" {
		d.Namespace = "default" // rendering needs one; the traffic does not depend on it
	}
	out, err := render.Render(d, render.AllVersions(d))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.Out, "%s: valid Route %s (%s, %s): %s\n", o.File, r.Name, r.Spec.Provider, r.Spec.Strategy, out.Summary())
	return err
}
