package run

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/runner"
)

// Conditions understood by assert.
const (
	CondCompleted = "completed"
	CondNoFailure = "nofailure"
	CondSLOs      = "slos"
)

var conditions = []string{CondCompleted, CondNoFailure, CondSLOs}

// AssertOptions are the options of assert.
type AssertOptions struct {
	genericiooptions.IOStreams
	// Flags are kubectl's configuration flags.
	Flags *genericclioptions.ConfigFlags
	// Name is an in-cluster experiment; empty reads ResultPath.
	Name string
	// ResultPath is the result file of a local run (--result).
	ResultPath string
	// Conditions must all hold (-c).
	Conditions []string
	// Timeout is how long to wait for a running experiment to end (--timeout).
	Timeout time.Duration
	// Interval is how often a local result file is read while waiting; an
	// in-cluster experiment is watched instead.
	Interval time.Duration
}

// NewAssertCommand returns the assert command.
func NewAssertCommand(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &AssertOptions{IOStreams: streams, Flags: f, Interval: time.Second}
	cmd := &cobra.Command{
		Use:   "assert [NAME] -c completed,nofailure,slos",
		Short: "Exit 0 when conditions on an experiment's result hold, 1 otherwise",
		Long: `Check conditions on the result of an experiment, for CI pipelines: exit 0 when all
hold, 1 otherwise, with one line per condition that does not hold.

Conditions:
  completed   the experiment ran to its end
  nofailure   no task failed and the run was not interrupted
  slos        every version satisfies every SLO

With NAME, the experiment is read from the cluster (-n); without, from the result file
of a local run. With --timeout, a result that is missing or still running is read
again every second until the experiment (or its Job) has ended or the timeout passes.`,
		Example: `  kubectl iter8-run assert checkout -n staging -c completed,nofailure,slos --timeout 5m
  kubectl iter8-run assert -c completed -c slos`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Name = args[0]
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.ResultPath, "result", "", "result file of a local run (default: "+experiment.ResultFileName+")")
	cmd.Flags().StringSliceVarP(&o.Conditions, "condition", "c", nil, "conditions that must hold: "+strings.Join(conditions, ", "))
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 0, "how long to wait for the experiment to end (0: do not wait)")
	_ = cmd.RegisterFlagCompletionFunc("condition", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return conditions, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// Validate checks the conditions and the timeout.
func (o *AssertOptions) Validate() error {
	if len(o.Conditions) == 0 {
		return fmt.Errorf("flag -c/--condition is required: one or more of %s", strings.Join(conditions, ", "))
	}
	for _, c := range o.Conditions {
		if !slices.Contains(conditions, c) {
			return fmt.Errorf("invalid value %q for flag -c/--condition: allowed values are %s", c, strings.Join(conditions, ", "))
		}
	}
	if o.Timeout < 0 {
		return fmt.Errorf("invalid value %s for flag --timeout: must not be negative", o.Timeout)
	}
	if o.Name != "" && o.ResultPath != "" {
		return errors.New("give an experiment NAME (in the cluster) or --result (a local run), not both")
	}
	return nil
}

// Run reads the result, waiting up to the timeout for it to end, and checks
// the conditions.
func (o *AssertOptions) Run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var changed <-chan struct{}
	if o.Name != "" && o.Timeout > 0 {
		var err error
		if changed, err = o.watch(ctx); err != nil {
			return err
		}
	}
	for {
		res, jobFailure, err := o.read(ctx)
		if err != nil && !errors.Is(err, experiment.ErrNoResult) {
			return err
		}
		if jobFailure != "" && (res == nil || res.EndTime == nil) {
			// The Job ended without the experiment ending: it crashed.
			fmt.Fprintln(o.ErrOut, "completed: not satisfied: "+jobFailure)
			return &cli.ExitError{Code: 1}
		}
		ended := err == nil && res.EndTime != nil
		if ended || o.Timeout == 0 {
			if err != nil {
				return err
			}
			return o.check(res)
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("timed out after %s: %w", o.Timeout, err)
			}
			fmt.Fprintf(o.ErrOut, "experiment %s is still running after %s\n", res.Experiment, o.Timeout)
			return o.check(res)
		case <-changed:
		case <-o.tick(changed):
		}
	}
}

// tick paces the reads of a local result file; an in-cluster experiment's
// reads follow its watch (changed) alone.
func (o *AssertOptions) tick(changed <-chan struct{}) <-chan time.Time {
	if changed != nil {
		return nil
	}
	return time.After(o.Interval)
}

// watch watches the experiment's Secret (its result) and Job (whether it
// failed), each selected by name and resumed where it broke (client-go's
// RetryWatcher), and signals on the channel when either changes, until ctx
// ends.
func (o *AssertOptions) watch(ctx context.Context) (<-chan struct{}, error) {
	c, err := clusterClient(o.Flags)
	if err != nil {
		return nil, err
	}
	ns, err := namespace(o.Flags, "")
	if err != nil {
		return nil, err
	}
	byName := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", runner.ObjectName(o.Name)).String()}
	changed := make(chan struct{}, 1)
	secrets, jobs := c.CoreV1().Secrets(ns), c.BatchV1().Jobs(ns)
	if err := follow(ctx, changed, byName, secrets.List, secrets.Watch); err != nil {
		return nil, fmt.Errorf("watching experiment %s: %w", o.Name, err)
	}
	if err := follow(ctx, changed, byName, jobs.List, jobs.Watch); err != nil {
		return nil, fmt.Errorf("watching experiment %s: %w", o.Name, err)
	}
	return changed, nil
}

// follow watches the objects that opts select, from the version their list
// has, resuming the watch where it breaks (client-go's RetryWatcher), and
// signals on changed whenever one changes, until ctx ends.
func follow[L interface{ GetResourceVersion() string }](ctx context.Context, changed chan<- struct{}, opts metav1.ListOptions,
	list func(context.Context, metav1.ListOptions) (L, error), watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)) error {
	l, err := list(ctx, opts)
	if err != nil {
		return err
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, l.GetResourceVersion(), &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector, o.LabelSelector = opts.FieldSelector, opts.LabelSelector
			return watchFn(ctx, o)
		},
	})
	if err != nil {
		return err
	}
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-w.ResultChan():
				if !ok {
					return
				}
				select {
				case changed <- struct{}{}:
				default:
				}
			}
		}
	}()
	return nil
}

// read reads the result, and for an in-cluster experiment also whether its
// Job failed. The Job is read first: a result read after the Job ended is
// final.
func (o *AssertOptions) read(ctx context.Context) (*experiment.Result, string, error) {
	if o.Name == "" {
		res, err := readResult(ctx, o.Flags, "", o.ResultPath)
		return res, "", err
	}
	c, err := clusterClient(o.Flags)
	if err != nil {
		return nil, "", err
	}
	ns, err := namespace(o.Flags, "")
	if err != nil {
		return nil, "", err
	}
	_, failure, err := runner.JobStatus(ctx, c, ns, o.Name)
	if err != nil {
		return nil, "", err
	}
	res, err := clusterResult(ctx, c, ns, o.Name)
	return res, failure, err
}

// check prints a line per condition that does not hold and returns an exit
// error when any does not.
func (o *AssertOptions) check(res *experiment.Result) error {
	var failed []string
	for _, c := range o.Conditions {
		if reason := unmet(c, res); reason != "" {
			failed = append(failed, reason)
		}
	}
	if len(failed) == 0 {
		fmt.Fprintf(o.ErrOut, "experiment %s: %s hold\n", res.Experiment, strings.Join(o.Conditions, ", "))
		return nil
	}
	for _, f := range failed {
		fmt.Fprintln(o.ErrOut, f)
	}
	return &cli.ExitError{Code: 1}
}

// unmet returns why condition c does not hold for res, or "".
func unmet(c string, res *experiment.Result) string {
	switch c {
	case CondCompleted:
		if res.EndTime == nil {
			return "completed: not satisfied: the experiment is still running"
		}
		if !res.Completed {
			return "completed: not satisfied: the experiment was interrupted"
		}
	case CondNoFailure:
		if res.Failed {
			return "nofailure: not satisfied: " + res.Error
		}
		for i, t := range res.Tasks {
			if t.State == experiment.TaskFailed {
				return fmt.Sprintf("nofailure: not satisfied: task %d (%s) failed: %s", i+1, t.Task, t.Error)
			}
		}
	case CondSLOs:
		if res.SLOs == nil {
			return "slos: not satisfied: no SLOs were assessed (add an assess task)"
		}
		var bad []string
		for i, v := range res.Versions {
			for j, s := range res.SLOs.SLOs {
				if !res.SLOs.Satisfies(i, j) {
					bad = append(bad, fmt.Sprintf("%s (%s)", v.Name, s))
				}
			}
		}
		if len(bad) > 0 {
			return "slos: not satisfied: " + strings.Join(bad, ", ")
		}
	}
	return ""
}
