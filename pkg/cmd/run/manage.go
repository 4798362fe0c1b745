package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/iter8-tools/iter8/internal/terminal"
	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/report"
	"github.com/iter8-tools/iter8/pkg/runner"
	"github.com/iter8-tools/iter8/pkg/tasks"
)

// ListOptions are the options of list.
type ListOptions struct {
	genericiooptions.IOStreams
	// Flags are kubectl's configuration flags.
	Flags *genericclioptions.ConfigFlags
	// AllNamespaces lists every namespace (-A).
	AllNamespaces bool
	// Output is -o table|json|yaml.
	Output *cli.OutputFlags
}

// ListItem is one experiment in the output of list -o json|yaml.
type ListItem struct {
	// Name is the experiment's name.
	Name string `json:"name"`
	// Namespace is its namespace.
	Namespace string `json:"namespace"`
	// Status is e.g. "running", "completed, no task failed", "failed: ...".
	Status string `json:"status"`
	// SLOs is "satisfied", "not satisfied" or "" when not assessed.
	SLOs string `json:"slos,omitempty"`
	// Iterations counts the runs that ended.
	Iterations int `json:"iterations"`
	// Created is when the experiment was launched.
	Created metav1.Time `json:"created"`
}

// NewListCommand returns the list command.
func NewListCommand(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ListOptions{IOStreams: streams, Flags: f, Output: cli.NewOutputFlags()}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the experiments in a namespace (-A: in every namespace)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Output.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "list experiments in every namespace")
	o.Output.AddFlags(cmd)
	return cmd
}

// Run lists the experiments.
func (o *ListOptions) Run(ctx context.Context) error {
	c, err := clusterClient(o.Flags)
	if err != nil {
		return err
	}
	ns := ""
	if !o.AllNamespaces {
		if ns, err = namespace(o.Flags, ""); err != nil {
			return err
		}
	}
	exps, err := runner.List(ctx, c, ns)
	if err != nil {
		return err
	}
	items := []ListItem{}
	for _, e := range exps {
		it := ListItem{Name: e.Name, Namespace: e.Namespace, Status: "pending", Created: e.Created}
		if r := e.Result; r != nil {
			it.Status = report.Status(r, terminal.Colorizer{})
			it.Iterations = r.Iterations
			if r.SLOs != nil {
				it.SLOs = "not satisfied"
				if r.SLOsSatisfied() {
					it.SLOs = "satisfied"
				}
			}
		}
		items = append(items, it)
	}
	return o.Output.Print(o.Out, items, func(w io.Writer) error {
		if len(items) == 0 {
			where := "in namespace " + ns
			if o.AllNamespaces {
				where = "in any namespace"
			}
			fmt.Fprintf(o.ErrOut, "No experiments found %s.\n", where)
			return nil
		}
		headers := []string{"name", "status", "slos", "iterations", "age"}
		if o.AllNamespaces {
			headers = append([]string{"namespace"}, headers...)
		}
		rows := make([][]string, len(items))
		for i, it := range items {
			slos := it.SLOs
			if slos == "" {
				slos = "-"
			}
			rows[i] = []string{it.Name, it.Status, slos, strconv.Itoa(it.Iterations), duration.HumanDuration(time.Since(it.Created.Time))}
			if o.AllNamespaces {
				rows[i] = append([]string{it.Namespace}, rows[i]...)
			}
		}
		return terminal.Table(w, headers, rows)
	})
}

// DeleteOptions are the options of delete.
type DeleteOptions struct {
	genericiooptions.IOStreams
	// Flags are kubectl's configuration flags.
	Flags *genericclioptions.ConfigFlags
	// Names are the experiments to delete.
	Names []string
}

// NewDeleteCommand returns the delete command.
func NewDeleteCommand(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DeleteOptions{IOStreams: streams, Flags: f}
	return &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete in-cluster experiments and every object they created",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Names = args
			return o.Run(cmd.Context())
		},
	}
}

// Run deletes the experiments.
func (o *DeleteOptions) Run(ctx context.Context) error {
	c, err := clusterClient(o.Flags)
	if err != nil {
		return err
	}
	ns, err := namespace(o.Flags, "")
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range o.Names {
		if err := runner.Delete(ctx, c, ns, name); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(o.ErrOut, "experiment %s deleted from namespace %s\n", name, ns)
	}
	return errors.Join(errs...)
}

// LogOptions are the options of log.
type LogOptions struct {
	genericiooptions.IOStreams
	// Flags are kubectl's configuration flags.
	Flags *genericclioptions.ConfigFlags
	// Name is the experiment.
	Name string
	// Follow streams the log as it grows (-f).
	Follow bool
	// PodRunningTimeout is how long -f waits for the experiment's pod to
	// start (--pod-running-timeout, as kubectl logs).
	PodRunningTimeout time.Duration
}

// NewLogCommand returns the log command.
func NewLogCommand(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &LogOptions{IOStreams: streams, Flags: f, PodRunningTimeout: 20 * time.Second}
	cmd := &cobra.Command{
		Use:     "log NAME",
		Aliases: []string{"logs"},
		Short:   "Print the log of an in-cluster experiment's latest pod",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "stream the log as it grows; wait for the pod to start")
	cmd.Flags().DurationVar(&o.PodRunningTimeout, "pod-running-timeout", o.PodRunningTimeout, "with -f, how long to wait for the experiment's pod to start")
	return cmd
}

// Run prints the log.
func (o *LogOptions) Run(ctx context.Context) error {
	c, err := clusterClient(o.Flags)
	if err != nil {
		return err
	}
	ns, err := namespace(o.Flags, "")
	if err != nil {
		return err
	}
	if _, err := runner.Get(ctx, c, ns, o.Name); err != nil {
		return err
	}
	selector := labels.Set{runner.LabelExperiment: o.Name}.String()
	pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return fmt.Errorf("finding the pods of experiment %s: %w", o.Name, err)
	}
	latest := latestPod(pods.Items)
	if o.Follow && (latest == nil || latest.Status.Phase == corev1.PodPending) {
		if latest, err = o.waitForPod(ctx, c.CoreV1().Pods(ns), selector, pods.ResourceVersion); err != nil {
			return err
		}
	}
	if latest == nil {
		return fmt.Errorf("experiment %s in namespace %s has no pod yet", o.Name, ns)
	}
	stream, err := c.CoreV1().Pods(ns).GetLogs(latest.Name, &corev1.PodLogOptions{Follow: o.Follow}).Stream(ctx)
	if err != nil {
		return fmt.Errorf("reading the log of pod %s: %w", latest.Name, err)
	}
	defer stream.Close()
	_, err = io.Copy(o.Out, stream)
	return err
}

// latestPod is the newest of pods, or nil.
func latestPod(pods []corev1.Pod) *corev1.Pod {
	if len(pods) == 0 {
		return nil
	}
	p := slices.MaxFunc(pods, func(a, b corev1.Pod) int {
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	return &p
}

// waitForPod watches the experiment's pods from resourceVersion until one
// has left Pending, for at most PodRunningTimeout.
func (o *LogOptions) waitForPod(ctx context.Context, pods typedcorev1.PodInterface, selector, resourceVersion string) (*corev1.Pod, error) {
	ctx, cancel := context.WithTimeout(ctx, o.PodRunningTimeout)
	defer cancel()
	fmt.Fprintf(o.ErrOut, "waiting for the pod of experiment %s to start\n", o.Name)
	w, err := watchtools.NewRetryWatcherWithContext(ctx, resourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector = selector
			return pods.Watch(ctx, opts)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("watching the pods of experiment %s: %w", o.Name, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no pod of experiment %s started within %s (--pod-running-timeout)", o.Name, o.PodRunningTimeout)
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil, fmt.Errorf("watching the pods of experiment %s: the watch ended", o.Name)
			}
			if p, isPod := ev.Object.(*corev1.Pod); isPod && ev.Type != watch.Deleted && p.Status.Phase != corev1.PodPending {
				return p, nil
			}
		}
	}
}

// NewJobCommand returns the hidden command an experiment's Job runs.
func NewJobCommand(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:    "job NAME",
		Short:  "Run an in-cluster experiment (what its Job runs)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, err := namespace(f, "")
			if err != nil {
				return err
			}
			res, err := runner.RunJob(cmd.Context(), f, ns, args[0], tasks.Registry(), streams.ErrOut)
			if err != nil {
				return err
			}
			if res.Failed {
				return &cli.ExitError{Code: 1, Err: fmt.Errorf("experiment %s failed: %s", args[0], res.Error)}
			}
			return nil
		},
	}
}
