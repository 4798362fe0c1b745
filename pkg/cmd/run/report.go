package run

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/iter8-tools/iter8/internal/terminal"
	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/report"
	"github.com/iter8-tools/iter8/pkg/runner"
)

// ReportOptions are the options of report.
type ReportOptions struct {
	genericiooptions.IOStreams
	// Flags are kubectl's configuration flags.
	Flags *genericclioptions.ConfigFlags
	// Name is an in-cluster experiment; empty reads ResultPath.
	Name string
	// ResultPath is the result file of a local run (--result).
	ResultPath string
	// Output is -o text|json|yaml|html.
	Output *cli.OutputFlags
}

// NewReportCommand returns the report command.
func NewReportCommand(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ReportOptions{IOStreams: streams, Flags: f, Output: cli.NewOutputFlags("text", cli.OutputJSON, cli.OutputYAML, cli.OutputHTML, cli.OutputJSONPath, cli.OutputGoTemplate)}
	cmd := &cobra.Command{
		Use:   "report [NAME]",
		Short: "Print the result of an experiment",
		Long: `Print the result of an experiment: a summary, the tasks, the SLOs satisfied by each
version, and the metrics with versions as columns (-o text), or the whole result
(-o json, -o yaml). -o html writes one self-contained page that opens offline: the
SLO matrix, each version's latency distribution and percentile curve, error rate,
throughput, late and dropped requests, every metric, and for a scheduled experiment
each metric across its iterations. With NAME, the experiment is read from the
cluster (-n); without, from the result file of a local run.`,
		Example: `  kubectl iter8-run report checkout -n staging
  kubectl iter8-run report --result runs/result.yaml -o json
  kubectl iter8-run report checkout -n staging -o html > checkout.html`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Name = args[0]
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.ResultPath, "result", "", "result file of a local run (default: "+experiment.ResultFileName+")")
	o.Output.AddFlags(cmd)
	return cmd
}

// Validate checks the flags.
func (o *ReportOptions) Validate() error {
	if o.Name != "" && o.ResultPath != "" {
		return errors.New("give an experiment NAME (in the cluster) or --result (a local run), not both")
	}
	return o.Output.Validate()
}

// Run prints the report.
func (o *ReportOptions) Run(ctx context.Context) error {
	res, err := readResult(ctx, o.Flags, o.Name, o.ResultPath)
	if err != nil {
		return err
	}
	return printResult(o.Out, o.Output, res)
}

// readResult reads an in-cluster experiment's result by name, or a local
// result file.
func readResult(ctx context.Context, f *genericclioptions.ConfigFlags, name, path string) (*experiment.Result, error) {
	if name == "" {
		if path == "" {
			path = experiment.ResultFileName
		}
		return experiment.ReadResultFile(path)
	}
	c, err := clusterClient(f)
	if err != nil {
		return nil, err
	}
	ns, err := namespace(f, "")
	if err != nil {
		return nil, err
	}
	return clusterResult(ctx, c, ns, name)
}

// clusterResult reads the result of the experiment name in namespace ns.
func clusterResult(ctx context.Context, c kubernetes.Interface, ns, name string) (*experiment.Result, error) {
	e, err := runner.Get(ctx, c, ns, name)
	if err != nil {
		return nil, err
	}
	if e.Result == nil {
		return nil, fmt.Errorf("%w yet for experiment %s in namespace %s: its Job has not started", experiment.ErrNoResult, name, ns)
	}
	return e.Result, nil
}

func printResult(w io.Writer, out *cli.OutputFlags, res *experiment.Result) error {
	if out.Format == cli.OutputHTML {
		return report.HTML(w, res)
	}
	return out.Print(w, res, func(w io.Writer) error {
		return report.Text(w, res, terminal.Colorizer{Enabled: terminal.ColorEnabled(w)})
	})
}
