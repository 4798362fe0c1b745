package route

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/spf13/cobra"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/iter8-tools/iter8/internal/terminal"
	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/reconcile"
	"github.com/iter8-tools/iter8/pkg/render"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// RouteView is a Route's state as status and list print it.
type RouteView struct {
	// Name and Namespace of the Route.
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Provider, Strategy and Sink (apply or git) of the Route.
	Provider string `json:"provider"`
	Strategy string `json:"strategy"`
	Sink     string `json:"sink"`
	// Ready is the status of the Ready condition: True, False or Unknown.
	Ready string `json:"ready"`
	// Reason and Message are those of the Ready condition.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Stalled is true when the Route cannot be reconciled until its spec
	// changes.
	Stalled bool `json:"stalled,omitempty"`
	// Current is true when the status is about the current generation.
	Current bool `json:"current"`
	// Revision is what was last rendered: a digest or a Git commit.
	Revision string `json:"revision,omitempty"`
	// AppliedRevision is the revision last confirmed live.
	AppliedRevision string `json:"appliedRevision,omitempty"`
	// Versions are the versions with their traffic.
	Versions []VersionView `json:"versions"`
	// Rollout is the state of the Route's rollout, if it has one.
	Rollout *RolloutView `json:"rollout,omitempty"`
	// Created is when the Route was created.
	Created time.Time `json:"created"`
}

// RolloutView is the state of a Route's rollout.
type RolloutView struct {
	// Candidate is the version rolled out.
	Candidate string `json:"candidate"`
	// Step is the current step, from 1; 0 before the first; Steps their
	// number.
	Step  int32 `json:"step"`
	Steps int32 `json:"steps"`
	// Phase is Waiting, Progressing, Paused, Succeeded, RolledBack or
	// Failed; Stage where the step is.
	Phase string `json:"phase"`
	Stage string `json:"stage,omitempty"`
	// Weight is the candidate's share of the traffic no match takes.
	Weight int32 `json:"weight"`
	// Experiment is the current step's experiment, and Verdict its outcome.
	Experiment string `json:"experiment,omitempty"`
	Verdict    string `json:"verdict,omitempty"`
	// Message says what the rollout waits for, or why it ended.
	Message string `json:"message,omitempty"`
	// History is what the rollout did, oldest first.
	History []v1alpha1.RolloutRecord `json:"history,omitempty"`
}

// done reports whether the rollout is over, its last routing live.
func (v *RolloutView) done() bool {
	return v1alpha1.RolloutPhase(v.Phase).Done() && v.Stage == string(v1alpha1.StageDone)
}

// VersionView is a version's state.
type VersionView struct {
	// Name of the version.
	Name string `json:"name"`
	// Ready is whether the controller found the version ready.
	Ready bool `json:"ready"`
	// Desired is the version's traffic as the spec declares it, every
	// version taken as ready, e.g. "20%", "by match", "mirrored 10%".
	Desired string `json:"desired"`
	// Applied is the version's traffic in the routing last rendered.
	Applied string `json:"applied"`
	// Reason says why the version is not ready.
	Reason string `json:"reason,omitempty"`
}

// viewOf summarises a Route.
func viewOf(r *v1alpha1.Route) RouteView {
	v := RouteView{
		Name: r.Name, Namespace: r.Namespace, Provider: string(r.Spec.Provider), Strategy: string(r.Spec.Strategy),
		Sink: string(r.Spec.SinkType()), Ready: string(metav1.ConditionUnknown),
		Current:  r.Status.ObservedGeneration == r.Generation,
		Revision: r.Status.LastRenderedRevision, AppliedRevision: r.Status.LastAppliedRevision,
		Created: r.CreationTimestamp.UTC(),
	}
	if c := apimeta.FindStatusCondition(r.Status.Conditions, meta.ReadyCondition); c != nil {
		v.Ready, v.Reason, v.Message = string(c.Status), c.Reason, c.Message
	}
	v.Stalled = apimeta.IsStatusConditionTrue(r.Status.Conditions, meta.StalledCondition)
	desired := map[string]string{}
	if p, errs := render.PlanOf(r, render.AllVersions(r), nil); len(errs) == 0 {
		for _, t := range p.Traffic {
			desired[t.Name] = render.Traffic(t)
		}
	}
	applied := map[string]v1alpha1.VersionStatus{}
	for _, t := range r.Status.Versions {
		applied[t.Name] = t
	}
	for _, sv := range r.Spec.Versions {
		vv := VersionView{Name: sv.Name, Desired: desired[sv.Name], Applied: "-"}
		if t, ok := applied[sv.Name]; ok {
			vv.Ready, vv.Applied, vv.Reason = t.Ready, render.Traffic(t), t.Reason
		}
		v.Versions = append(v.Versions, vv)
	}
	if st := r.Status.Rollout; st != nil && r.Spec.Rollout != nil {
		v.Rollout = &RolloutView{
			Candidate: st.Candidate, Step: st.Step, Steps: int32(len(r.Spec.Rollout.Steps)), Phase: string(st.Phase), Stage: string(st.Stage),
			Weight: st.Weight, Experiment: st.Experiment, Verdict: st.Verdict, Message: st.Message, History: st.History,
		}
	}
	return v
}

// summary is the applied traffic in a line.
func (v RouteView) summary() string {
	parts := make([]string, len(v.Versions))
	for i, vv := range v.Versions {
		parts[i] = vv.Name + " " + vv.Applied
	}
	return strings.Join(parts, ", ")
}

// StatusOptions are the options of status.
type StatusOptions struct {
	genericiooptions.IOStreams
	// ConfigFlags give the cluster and the namespace.
	ConfigFlags *genericclioptions.ConfigFlags
	// Name is the Route's name.
	Name string
	// Watch waits until the Route is Ready (-w).
	Watch bool
	// Timeout bounds the wait (--timeout); 0 waits for ever.
	Timeout time.Duration
	// Output is -o table|json|yaml.
	Output *cli.OutputFlags

	client    client.WithWatch
	namespace string
}

// NewStatusCommand returns the status command.
func NewStatusCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := &StatusOptions{IOStreams: streams, ConfigFlags: flags, Output: cli.NewOutputFlags()}
	cmd := &cobra.Command{
		Use:   "status NAME [-w] [--timeout D]",
		Short: "Show a Route's versions: ready, traffic desired and applied, revision",
		Long: `Show the state of the Route NAME: whether it is Ready, and for each version whether
it is ready, the traffic the spec gives it (every version taken as ready) and the
traffic of the routing last rendered, with the reason a version is not ready, and
the revision (digest, or Git commit) last rendered and confirmed live.

For a Route with a rollout, it also shows the candidate's step, phase and
weight, the step's experiment and verdict, and the rollout's history, with the
revision (Git commit) each change wrote.

With -w, wait until the Route is Ready for its current spec (and its rollout,
if any, is over), then print it; exit 0, or 1 when it is Stalled (its spec must
change), its rollout ended other than Succeeded (RolledBack or Failed), or
--timeout passes. Progress (each step of a rollout) goes to stderr.`,
		Example: `  kubectl iter8-route status checkout -n shop
  kubectl iter8-route status checkout -n shop -w --timeout 2m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if err := o.Validate(); err != nil {
				return err
			}
			if err := o.Complete(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.Watch, "watch", "w", false, "wait until the Route is Ready; exit 1 if it is Stalled or --timeout passes")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 0, "with -w, how long to wait (0: no limit)")
	o.Output.AddFlags(cmd)
	return cmd
}

// Validate checks the flags.
func (o *StatusOptions) Validate() error {
	if o.Timeout < 0 {
		return fmt.Errorf("invalid value %s for flag --timeout: must not be negative", o.Timeout)
	}
	if o.Timeout > 0 && !o.Watch {
		return errors.New("flag --timeout needs -w/--watch: it bounds the wait")
	}
	return o.Output.Validate()
}

// Complete builds the client.
func (o *StatusOptions) Complete() (err error) {
	o.client, o.namespace, err = routeClient(o.ConfigFlags)
	return err
}

// routeClient returns a client for Routes, which can watch them, and the
// namespace of -n.
func routeClient(flags *genericclioptions.ConfigFlags) (client.WithWatch, string, error) {
	ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("reading the namespace: %w", err)
	}
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, "", err
	}
	scheme, err := reconcile.Scheme()
	if err != nil {
		return nil, "", err
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	return c, ns, err
}

// Run prints the status, after waiting with -w.
func (o *StatusOptions) Run(ctx context.Context) error {
	key := client.ObjectKey{Namespace: o.namespace, Name: o.Name}
	r := &v1alpha1.Route{}
	if err := o.client.Get(ctx, key, r); err != nil {
		return err
	}
	if o.Watch {
		var err error
		if r, err = o.wait(ctx, key); err != nil {
			return err
		}
	}
	v := viewOf(r)
	if err := o.Output.Print(o.Out, v, func(w io.Writer) error { return printStatus(w, v) }); err != nil {
		return err
	}
	if o.Watch && v.Stalled {
		return &cli.ExitError{Code: 1, Err: fmt.Errorf("route %s/%s is stalled: %s", v.Namespace, v.Name, v.Message)}
	}
	if o.Watch && v.Rollout != nil && v.Rollout.Phase != string(v1alpha1.RolloutSucceeded) {
		return &cli.ExitError{Code: 1, Err: fmt.Errorf("route %s/%s: the rollout of %s is %s: %s", v.Namespace, v.Name, v.Rollout.Candidate, v.Rollout.Phase, v.Rollout.Message)}
	}
	return nil
}

// settled reports whether -w is done waiting: the status is about the
// current generation, and the Route is Stalled, or Ready with its rollout,
// if any, over.
func (v RouteView) settled() bool {
	return v.Current && (v.Stalled || v.Ready == string(metav1.ConditionTrue) && (v.Rollout == nil || v.Rollout.done()))
}

// wait follows the Route (a watch, resumed when it breaks) until it is
// Ready for its generation or Stalled, writing what it waits for to
// stderr when that changes.
func (o *StatusOptions) wait(ctx context.Context, key client.ObjectKey) (*v1alpha1.Route, error) {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	only := func(opts metav1.ListOptions) *client.ListOptions {
		return &client.ListOptions{Namespace: key.Namespace, FieldSelector: fields.OneTermEqualSelector("metadata.name", key.Name), Raw: &opts}
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			list := &v1alpha1.RouteList{}
			return list, o.client.List(ctx, list, only(opts))
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return o.client.Watch(ctx, &v1alpha1.RouteList{}, only(opts))
		},
	}
	var settled *v1alpha1.Route
	last := ""
	_, err := watchtools.UntilWithSync(ctx, lw, &v1alpha1.Route{}, nil, func(ev watch.Event) (bool, error) {
		r, ok := ev.Object.(*v1alpha1.Route)
		if !ok {
			return false, nil
		}
		if ev.Type == watch.Deleted {
			return false, fmt.Errorf("route %s was deleted while waiting for it", key)
		}
		v := viewOf(r)
		if v.settled() {
			settled = r
			return true, nil
		}
		msg := fmt.Sprintf("waiting for route %s/%s: %s: %s", v.Namespace, v.Name, v.Reason, v.Message)
		switch ro := v.Rollout; {
		case !v.Current:
			msg = fmt.Sprintf("waiting for route %s/%s: generation %d is not reconciled yet", v.Namespace, v.Name, r.Generation)
		case ro != nil && v.Ready == string(metav1.ConditionTrue):
			msg = fmt.Sprintf("rollout of %s: step %d/%d, %s %d%%, %s: %s", ro.Candidate, ro.Step, ro.Steps, ro.Candidate, ro.Weight, ro.Phase, ro.Message)
		}
		if msg != last {
			fmt.Fprintln(o.ErrOut, msg)
			last = msg
		}
		return false, nil
	})
	switch {
	case err == nil:
		return settled, nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, &cli.ExitError{Code: 1, Err: fmt.Errorf("timed out after %s waiting for route %s to be Ready", o.Timeout, key)}
	}
	return nil, err
}

func printStatus(w io.Writer, v RouteView) error {
	fmt.Fprintf(w, "Route:     %s/%s (%s, %s, sink %s)\n", v.Namespace, v.Name, v.Provider, v.Strategy, v.Sink)
	ready := v.Ready
	if v.Stalled {
		ready += " (Stalled)"
	} else if !v.Current {
		ready += " (the current spec is not reconciled yet)"
	}
	fmt.Fprintf(w, "Ready:     %s %s\n", ready, v.Reason)
	if v.Message != "" {
		fmt.Fprintf(w, "Message:   %s\n", printers.EscapeTerminal(v.Message))
	}
	fmt.Fprintf(w, "Revision:  %s\n", orDash(v.Revision))
	fmt.Fprintf(w, "Applied:   %s\n\n", orDash(v.AppliedRevision))
	rows := make([][]string, len(v.Versions))
	for i, vv := range v.Versions {
		rows[i] = []string{vv.Name, boolWord(vv.Ready), vv.Desired, vv.Applied, vv.Reason}
	}
	if err := terminal.Table(w, []string{"version", "ready", "desired", "applied", "reason"}, rows); err != nil {
		return err
	}
	ro := v.Rollout
	if ro == nil {
		return nil
	}
	fmt.Fprintf(w, "\nRollout:   %s, step %d/%d, %s %d%%: %s", ro.Candidate, ro.Step, ro.Steps, ro.Candidate, ro.Weight, ro.Phase)
	if ro.Stage != "" && ro.Stage != string(v1alpha1.StageDone) {
		fmt.Fprintf(w, " (%s)", ro.Stage)
	}
	fmt.Fprintln(w)
	if ro.Message != "" {
		fmt.Fprintf(w, "Message:   %s\n", printers.EscapeTerminal(ro.Message))
	}
	if ro.Experiment != "" {
		fmt.Fprintf(w, "Analysis:  %s %s\n", ro.Experiment, orDash(ro.Verdict))
	}
	fmt.Fprintln(w)
	hist := make([][]string, len(ro.History))
	for i, h := range ro.History {
		hist[i] = []string{h.Time.UTC().Format(time.RFC3339), fmt.Sprint(h.Step), string(h.Phase), fmt.Sprintf("%d%%", h.Weight), orDash(shortRevision(h.Revision)), printers.EscapeTerminal(h.Message)}
	}
	return terminal.Table(w, []string{"time", "step", "phase", "weight", "revision", "what happened"}, hist)
}

// shortRevision shortens a revision for a table: a Git commit to 12 hex
// digits, a digest to its first 12.
func shortRevision(rev string) string {
	for _, sep := range []string{"@sha1:", "sha256:"} {
		if i := strings.Index(rev, sep); i >= 0 && len(rev) > i+len(sep)+12 {
			return rev[:i+len(sep)+12]
		}
	}
	return rev
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func boolWord(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// ListOptions are the options of list.
type ListOptions struct {
	genericiooptions.IOStreams
	// ConfigFlags give the cluster and the namespace.
	ConfigFlags *genericclioptions.ConfigFlags
	// AllNamespaces lists the Routes of every namespace (-A).
	AllNamespaces bool
	// Output is -o table|json|yaml.
	Output *cli.OutputFlags
	// Now is the time ages are computed from.
	Now func() time.Time
}

// NewListCommand returns the list command.
func NewListCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := &ListOptions{IOStreams: streams, ConfigFlags: flags, Output: cli.NewOutputFlags(cli.OutputTable, cli.OutputJSON, cli.OutputYAML, cli.OutputName, cli.OutputJSONPath, cli.OutputGoTemplate), Now: time.Now}
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List Routes with their state and traffic",
		Example: "  kubectl iter8-route list -n shop\n  kubectl iter8-route list -A -o yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Output.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "list the Routes of every namespace")
	o.Output.AddFlags(cmd)
	return cmd
}

// Run lists the Routes.
func (o *ListOptions) Run(ctx context.Context) error {
	c, ns, err := routeClient(o.ConfigFlags)
	if err != nil {
		return err
	}
	var opts []client.ListOption
	if !o.AllNamespaces {
		opts = append(opts, client.InNamespace(ns))
	}
	var list v1alpha1.RouteList
	if err := c.List(ctx, &list, opts...); err != nil {
		return err
	}
	views := make([]RouteView, len(list.Items))
	names := make([]string, len(list.Items))
	for i := range list.Items {
		views[i], names[i] = viewOf(&list.Items[i]), list.Items[i].Name
	}
	return o.Output.PrintList(o.Out, views, "route."+v1alpha1.GroupVersion.Group, names, func(w io.Writer) error {
		headers := []string{"name", "provider", "strategy", "sink", "ready", "traffic", "age"}
		if o.AllNamespaces {
			headers = append([]string{"namespace"}, headers...)
		}
		rows := make([][]string, len(views))
		for i, v := range views {
			ready := v.Ready
			if v.Stalled {
				ready = "Stalled"
			}
			row := []string{v.Name, v.Provider, v.Strategy, v.Sink, ready, v.summary(), duration.HumanDuration(o.Now().Sub(v.Created))}
			if o.AllNamespaces {
				row = append([]string{v.Namespace}, row...)
			}
			rows[i] = row
		}
		return terminal.Table(w, headers, rows)
	})
}
