package run

import (
	"fmt"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"

	"github.com/iter8-tools/iter8/pkg/cli"
)

// clusterClient builds a clientset from kubectl's flags.
func clusterClient(f *genericclioptions.ConfigFlags) (kubernetes.Interface, error) {
	cfg, err := f.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	return kubernetes.NewForConfig(cfg)
}

// namespace resolves the namespace: -n, else the experiment's
// metadata.namespace, else the kubeconfig context's (see cli.Namespace).
func namespace(f *genericclioptions.ConfigFlags, fromSpec string) (string, error) {
	return cli.Namespace(f, fromSpec, "the experiment's metadata.namespace")
}
