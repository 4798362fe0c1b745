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
	Long:  "kubectl iter8-abn deploys and queries the A/B/n service, which assigns users to versions stickily and collects business metrics from a client SDK, and reports those metrics with statistics.",
}

// NewCommand returns the root command of kubectl iter8-abn.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	root := cli.NewRoot(Plugin, streams)
	return root.Command
}
