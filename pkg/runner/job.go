package runner

import (
	"context"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

// RunJob is what the experiment's Job runs: it reads the spec from the
// experiment's Secret, runs the tasks, and writes the result back to the
// Secret after every task (so a report shows progress). The result of an
// earlier run (a CronJob's) is counted on from, not wiped.
func RunJob(ctx context.Context, cluster genericclioptions.RESTClientGetter, namespace, name string, reg experiment.Registry, progress io.Writer) (*experiment.Result, error) {
	cfg, err := cluster.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	stored, err := Get(ctx, c, namespace, name)
	if err != nil {
		return nil, err
	}
	// The files the spec names are mounted where it names them, relative
	// to PodDir.
	exp, err := experiment.Parse(ObjectName(name)+"/"+SpecKey, PodDir, stored.Spec, reg)
	if err != nil {
		return nil, err
	}
	return experiment.Execute(ctx, exp, experiment.Options{
		Progress:  progress,
		Previous:  stored.Result,
		Cluster:   cluster,
		Namespace: namespace,
		Save: func(ctx context.Context, r *experiment.Result) error {
			return saveResult(ctx, c, namespace, ObjectName(name), r)
		},
	})
}

// saveResult writes the result into the Secret, retrying on conflicts.
func saveResult(ctx context.Context, c kubernetes.Interface, namespace, secret string, r *experiment.Result) error {
	b, err := yaml.Marshal(r)
	if err != nil {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := c.CoreV1().Secrets(namespace).Get(ctx, secret, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data[ResultKey] = b
		_, err = c.CoreV1().Secrets(namespace).Update(ctx, s, metav1.UpdateOptions{})
		return err
	})
}
