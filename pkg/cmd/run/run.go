// Package run holds the commands of kubectl iter8-run.
package run

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/iter8-tools/iter8/pkg/cli"
)

// Plugin names kubectl iter8-run.
var Plugin = cli.Plugin{
	Name:  "iter8-run",
	Short: "Run experiments that load-test versions of a service, gather metrics and assess SLOs",
	Long: `kubectl iter8-run runs experiments: ordered lists of tasks that load-test versions
of an app or ML inference service over HTTP or gRPC, query metrics, and assess
service-level objectives. Experiments run in the cluster as a Job (or a CronJob),
storing their result there, or locally with --local, writing a result file; report and
assert read either.

Try it with no cluster: kubectl iter8-run demo`,
}

// NewCommand returns the root command of kubectl iter8-run.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	root := cli.NewRoot(Plugin, streams)
	f := root.ConfigFlags
	root.Command.AddCommand(
		NewLaunchCommand(f, streams),
		NewGenerateCommand(f, streams),
		NewReportCommand(f, streams),
		NewAssertCommand(f, streams),
		NewListCommand(f, streams),
		NewLogCommand(f, streams),
		NewDeleteCommand(f, streams),
		NewDemoCommand(streams),
		NewJobCommand(f, streams),
	)
	return root.Command
}
