package run

import (
	"context"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/report"
)

// ReportOptions are the options of report.
type ReportOptions struct {
	genericiooptions.IOStreams
	// ResultPath is the result file (--result).
	ResultPath string
	// Output is -o text|json|yaml.
	Output *cli.OutputFlags
}

// NewReportCommand returns the report command.
func NewReportCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &ReportOptions{IOStreams: streams, Output: cli.NewOutputFlags("text", cli.OutputJSON, cli.OutputYAML)}
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Print the result of an experiment",
		Long: `Print the result of an experiment: a summary, the tasks, the SLOs satisfied by each
version, and the metrics with versions as columns (-o text), or the whole result
(-o json, -o yaml).`,
		Example: `  kubectl iter8-run report
  kubectl iter8-run report --result runs/result.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Output.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.ResultPath, "result", experiment.ResultFileName, "result file")
	o.Output.AddFlags(cmd)
	return cmd
}

// Run prints the report.
func (o *ReportOptions) Run(context.Context) error {
	res, err := experiment.ReadResultFile(o.ResultPath)
	if err != nil {
		return err
	}
	return printResult(o.Out, o.Output, res)
}

func printResult(w io.Writer, out *cli.OutputFlags, res *experiment.Result) error {
	return out.Print(w, res, func(w io.Writer) error {
		return report.Text(w, res, cli.Colorizer{Enabled: cli.ColorEnabled(w)})
	})
}
