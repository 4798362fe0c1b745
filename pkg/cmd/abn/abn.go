// Package abn holds the commands of kubectl iter8-abn.
package abn

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/iter8-tools/iter8/pkg/cli"
)

// Plugin names kubectl iter8-abn.
var Plugin = cli.Plugin{
	Name:  "iter8-abn",
	Short: "A/B/n test versions of an app with sticky user assignment and business metrics",
	Long: `kubectl iter8-abn deploys and queries the A/B/n service, which assigns users to
versions stickily and collects business metrics from a client SDK, and reports those
metrics with statistics.

  kubectl iter8-abn deploy                    # run the service in the namespace
  kubectl port-forward svc/iter8-abn 50051    # reach it from here
  kubectl iter8-abn lookup checkout ann       # the version user ann gets
  kubectl iter8-abn metrics checkout          # which version wins`,
}

// NewCommand returns the root command of kubectl iter8-abn.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	root := cli.NewRoot(Plugin, streams)
	f := root.ConfigFlags
	root.Command.AddCommand(
		NewDeployCommand(f, streams),
		NewMetricsCommand(streams),
		NewLookupCommand(streams),
		NewWriteCommand(streams),
		NewServeCommand(f, streams),
	)
	return root.Command
}
