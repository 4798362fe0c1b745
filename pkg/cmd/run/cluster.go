package run

import (
	"fmt"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
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
// metadata.namespace, else the kubeconfig context's (default "default").
// -n and a different metadata.namespace conflict, as with kubectl apply.
func namespace(f *genericclioptions.ConfigFlags, fromSpec string) (string, error) {
	ns, explicit, err := f.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("reading the kubeconfig: %w", err)
	}
	switch {
	case explicit && fromSpec != "" && fromSpec != ns:
		return "", fmt.Errorf("the experiment's metadata.namespace %q does not match the namespace %q of flag -n/--namespace", fromSpec, ns)
	case explicit:
		return ns, nil
	case fromSpec != "":
		return fromSpec, nil
	}
	return ns, nil
}
