package abn

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/iter8-tools/iter8/internal/terminal"
	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/cli"
)

// MetricsOptions are the options of metrics.
type MetricsOptions struct {
	genericiooptions.IOStreams
	EndpointFlags
	// Application is the argument.
	Application string
}

// NewMetricsCommand returns the metrics command.
func NewMetricsCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &MetricsOptions{IOStreams: streams, EndpointFlags: newEndpointFlags()}
	o.Output = cli.NewOutputFlags(cli.OutputTable, cli.OutputJSON, cli.OutputYAML, cli.OutputHTML, cli.OutputJSONPath, cli.OutputGoTemplate)
	cmd := &cobra.Command{
		Use:   "metrics APP",
		Short: "Show the business metrics of each version, compared with the baseline",
		Long: `Show, for each version of an application: its users and transactions; for each
metric, the count, mean, standard deviation, minimum, maximum, median and 95th
percentile of its values; the mean per user (a user's total, 0 for users without
values); and the difference of that mean from the baseline's with a 95% confidence
interval and p-value (Welch's t-test). The sample ratio check tests the users per
version against the weights (chi-squared) and flags a mismatch when p < 0.001.
-o html writes the same as one self-contained page with plots (users against the
expected split, each metric's mean per user with its interval), as the service
serves at /report/APP.`,
		Example: `  kubectl iter8-abn metrics checkout
  kubectl iter8-abn metrics checkout -o json --endpoint 127.0.0.1:50051
  kubectl iter8-abn metrics checkout -o html > checkout.html`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Application = args[0]
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.EndpointFlags.AddFlags(cmd)
	return cmd
}

// Run prints the report.
func (o *MetricsOptions) Run(ctx context.Context) error {
	c, ctx, done, err := o.client(ctx)
	if err != nil {
		return err
	}
	defer done()
	res, err := c.Results(ctx, o.Application)
	if err != nil {
		return o.explain(err)
	}
	rep := abn.Analyze(res)
	if o.Output.Format == cli.OutputHTML {
		return abn.HTML(o.Out, rep)
	}
	return o.Output.Print(o.Out, rep, func(w io.Writer) error {
		return printReport(w, rep, terminal.Colorizer{Enabled: terminal.ColorEnabled(w)})
	})
}

// printReport writes the report as tables.
func printReport(w io.Writer, rep abn.Report, color terminal.Colorizer) error {
	fmt.Fprintf(w, "Application:  %s\nBaseline:     %s\n", printers.EscapeTerminal(rep.Application), printers.EscapeTerminal(rep.Baseline))
	switch sr := rep.SampleRatio; {
	case sr == nil:
		fmt.Fprintln(w, "Sample ratio: not checked (see notes)")
	case sr.Mismatch:
		fmt.Fprintf(w, "Sample ratio: %s (chi-squared %s, p %s < %g): users are not split as the weights say; comparisons are suspect\n",
			color.Paint(terminal.Red, "MISMATCH"), abn.FormatStatistic(sr.Statistic), abn.FormatStatistic(sr.PValue), abn.SampleRatioThreshold)
	default:
		fmt.Fprintf(w, "Sample ratio: %s (chi-squared %s, p %s)\n", color.Paint(terminal.Green, "ok"), abn.FormatStatistic(sr.Statistic), abn.FormatStatistic(sr.PValue))
	}
	fmt.Fprintln(w)

	var rows [][]string
	for _, v := range rep.Versions {
		index := strconv.Itoa(v.Index)
		if v.Index < 0 {
			index = "-"
		}
		rows = append(rows, []string{v.Name, index, strconv.FormatUint(uint64(v.Weight), 10), strconv.FormatBool(v.Ready),
			strconv.FormatInt(v.Users, 10), strconv.FormatInt(v.Transactions, 10)})
	}
	if err := terminal.Table(w, []string{"version", "index", "weight", "ready", "users", "transactions"}, rows); err != nil {
		return err
	}

	rows = nil
	if len(rep.Versions) > 0 {
		for i := range rep.Versions[0].Metrics {
			for _, v := range rep.Versions {
				m := v.Metrics[i]
				vs, p := "", ""
				switch {
				case v.Name == rep.Baseline:
					vs = "(baseline)"
				case m.VsBaseline != nil:
					vs = fmt.Sprintf("%s [%s, %s]", abn.FormatDifference(m.VsBaseline.Difference), abn.FormatDifference(m.VsBaseline.Lower), abn.FormatDifference(m.VsBaseline.Upper))
					p = abn.FormatStatistic(m.VsBaseline.PValue)
				}
				rows = append(rows, []string{m.Name, v.Name, strconv.FormatInt(m.Count, 10), abn.FormatStatistic(m.Mean), abn.FormatStatistic(m.Stddev),
					abn.FormatStatistic(m.Min), abn.FormatStatistic(m.Max), abn.FormatStatistic(m.P50), abn.FormatStatistic(m.P95), abn.FormatStatistic(m.PerUser.Mean), vs, p})
			}
		}
	}
	if len(rows) > 0 {
		fmt.Fprintln(w)
		if err := terminal.Table(w, []string{"metric", "version", "count", "mean", "stddev", "min", "max", "p50", "p95",
			"per user", "vs baseline (95% CI)", "p-value"}, rows); err != nil {
			return err
		}
	}
	if len(rep.Notes) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		for _, n := range rep.Notes {
			fmt.Fprintf(w, "  %s\n", printers.EscapeTerminal(n))
		}
	}
	return nil
}
