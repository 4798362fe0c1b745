// Package route holds the commands of kubectl iter8-route.
package route

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/iter8-tools/iter8/pkg/cli"
)

// Plugin names kubectl iter8-route.
var Plugin = cli.Plugin{
	Name:  "iter8-route",
	Short: "Control how traffic reaches the versions of an app",
	Long:  "kubectl iter8-route renders mesh routing (Istio, Gateway API, KServe ModelMesh) for a declared set of versions and weights, as kustomize overlays for GitOps or through an in-cluster reconciler that only sends traffic to ready versions.",
}

// NewCommand returns the root command of kubectl iter8-route.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	root := cli.NewRoot(Plugin, streams)
	root.Command.AddCommand(
		NewGenerateCommand(streams, root.ConfigFlags),
		NewValidateCommand(streams),
		NewControllerCommand(streams, root.ConfigFlags),
		NewInstallCommand(streams, root.ConfigFlags),
		NewStatusCommand(streams, root.ConfigFlags),
		NewListCommand(streams, root.ConfigFlags),
		NewSetWeightCommand(streams, root.ConfigFlags),
		NewPromoteCommand(streams, root.ConfigFlags),
		NewAbortCommand(streams, root.ConfigFlags),
		NewResumeCommand(streams, root.ConfigFlags),
	)
	return root.Command
}
