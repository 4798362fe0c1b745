package run

import (
	"context"
	"io"

	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/iter8-tools/iter8/internal/terminal"
	"github.com/iter8-tools/iter8/pkg/experiment"
)

// runLocal runs exp in this process, saving the result to path after every
// task; progress goes to progress. Tasks that need a cluster use cluster.
func runLocal(ctx context.Context, exp *experiment.Experiment, path string, progress io.Writer, cluster genericclioptions.RESTClientGetter, namespace string) (*experiment.Result, error) {
	return experiment.Execute(ctx, exp, experiment.Options{
		Progress:  progress,
		Terminal:  terminal.IsTerminal(progress),
		Cluster:   cluster,
		Namespace: namespace,
		Save: func(_ context.Context, r *experiment.Result) error {
			return experiment.WriteResultFile(path, r)
		},
	})
}
