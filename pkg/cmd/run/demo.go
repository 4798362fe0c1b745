package run

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/iter8-tools/iter8/internal/demo"
	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/tasks"
)

// DemoOptions are the options of demo.
type DemoOptions struct {
	genericiooptions.IOStreams
	// ResultPath is where the result goes (--result).
	ResultPath string
	// ExperimentPath, when set, receives the demo experiment's YAML.
	ExperimentPath string
	// Output is -o text|json|yaml for the report.
	Output *cli.OutputFlags
}

// NewDemoCommand returns the demo command.
func NewDemoCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &DemoOptions{IOStreams: streams, Output: cli.NewOutputFlags("text", cli.OutputJSON, cli.OutputYAML, cli.OutputHTML, cli.OutputJSONPath, cli.OutputGoTemplate)}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run an experiment against a bundled sample app, no cluster needed",
		Long: `Start a sample app with two versions on 127.0.0.1 (v2 is slower and fails 4% of
requests), run an experiment that load-tests both and assesses SLOs, write the
result and print the report. --save-experiment writes the experiment used, to
read or adapt.`,
		Example: `  kubectl iter8-run demo
  kubectl iter8-run assert -c completed,nofailure,slos   # exits 1: v2 misses its SLOs`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Output.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.ResultPath, "result", experiment.ResultFileName, "result file")
	cmd.Flags().StringVar(&o.ExperimentPath, "save-experiment", "", "also write the demo experiment to this file")
	o.Output.AddFlags(cmd)
	return cmd
}

// Run starts the sample app, runs the experiment and prints the report.
func (o *DemoOptions) Run(ctx context.Context) error {
	app, err := demo.Start()
	if err != nil {
		return err
	}
	defer app.Close()
	spec, err := app.Experiment()
	if err != nil {
		return err
	}
	if o.ExperimentPath != "" {
		if err := os.WriteFile(o.ExperimentPath, spec, 0o644); err != nil {
			return fmt.Errorf("writing the demo experiment: %w", err)
		}
	}
	exp, err := experiment.Parse("demo experiment", ".", spec, tasks.Registry())
	if err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "sample app: v1 at %s, v2 at %s\n", app.HTTP["v1"], app.HTTP["v2"])
	res, err := runLocal(ctx, exp, o.ResultPath, o.ErrOut, nil, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "result written to %s\n\n", o.ResultPath)
	if err := printResult(o.Out, o.Output, res); err != nil {
		return err
	}
	if res.Failed {
		return &cli.ExitError{Code: 1, Err: fmt.Errorf("the demo experiment failed: %s", res.Error)}
	}
	return nil
}
