package route

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/iter8-tools/iter8/pkg/gitops"
	"github.com/iter8-tools/iter8/pkg/route"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// EditOptions are the options of set-weight, promote, abort and resume, which
// change a Route in the cluster or in a Git checkout.
type EditOptions struct {
	genericiooptions.IOStreams
	// ConfigFlags give the cluster and the namespace.
	ConfigFlags *genericclioptions.ConfigFlags
	// Name is the Route's name.
	Name string
	// GitDir, when set, is a Git checkout holding the Route's file
	// (--git): the file is changed and committed instead.
	GitDir string
	// Push pushes the commit (--push).
	Push bool
	// Remote is the Git remote pushed to (--remote).
	Remote string

	edit              edit
	namespace         string
	explicitNamespace bool
}

// newEditCommand builds a command that applies the edit made from args.
func newEditCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags, cmd *cobra.Command, makeEdit func(args []string) (edit, error)) *cobra.Command {
	o := &EditOptions{IOStreams: streams, ConfigFlags: flags, Remote: "origin"}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		o.Name = args[0]
		e, err := makeEdit(args[1:])
		if err != nil {
			return err
		}
		o.edit = e
		if err := o.Complete(); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run(cmd.Context())
	}
	cmd.Flags().StringVar(&o.GitDir, "git", "", "change the Route's file in this Git checkout and commit it, instead of the Route in the cluster")
	cmd.Flags().BoolVar(&o.Push, "push", false, "push the commit (with --git)")
	cmd.Flags().StringVar(&o.Remote, "remote", o.Remote, "Git remote to push to")
	_ = cmd.MarkFlagDirname("git")
	return cmd
}

// NewSetWeightCommand returns the set-weight command.
func NewSetWeightCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	return newEditCommand(streams, flags, &cobra.Command{
		Use:   "set-weight NAME VERSION=N...",
		Short: "Set the weights of versions of a blue-green or mirror Route",
		Long: `Set the weight of each named version of the Route NAME: its relative share of
traffic (blue-green) or the percentage of requests copied to it (mirror). Versions
not named keep their weights. The controller sends traffic only to the versions
that are ready. With --git DIR the Route's file in the Git checkout DIR is changed
and committed (and pushed with --push), for GitOps.`,
		Example: `  kubectl iter8-route set-weight checkout v1=80 v2=20 -n shop
  kubectl iter8-route set-weight checkout v2=50 --git ~/fleet --push`,
		Args: cobra.MinimumNArgs(2),
	}, func(args []string) (edit, error) {
		order, weights, err := parseWeights(args)
		if err != nil {
			return nil, err
		}
		return setWeights(order, weights), nil
	})
}

// NewPromoteCommand returns the promote command.
func NewPromoteCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	return newEditCommand(streams, flags, &cobra.Command{
		Use:   "promote NAME VERSION",
		Short: "Make a version the primary, with all traffic",
		Long: `Make VERSION the primary of the Route NAME and give it all traffic: weight 100,
the other versions 0. A canary or A/B/n Route becomes blue-green (its matches
are dropped); a mirror Route stops mirroring. The other versions stay in the
Route, so that their objects are released only once traffic has left them.

For a Route with a rollout, VERSION must be its candidate: the controller
promotes it at once, whatever step it is at, and records why.`,
		Example: `  kubectl iter8-route promote checkout v2 -n shop`,
		Args:    cobra.ExactArgs(2),
	}, func(args []string) (edit, error) { return promote(args[0], time.Now()), nil })
}

// NewResumeCommand returns the resume command.
func NewResumeCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	return newEditCommand(streams, flags, &cobra.Command{
		Use:   "resume NAME",
		Short: "End the pause of the current step of a Route's rollout",
		Long: `End the pause of the current step of the rollout of the Route NAME: a step whose
pause is untilResumed waits for this, and a timed pause ends early. The
controller records the resume in the rollout's history; a resume while the
step is not paused does nothing. With --git DIR the Route's file in the Git
checkout DIR is changed and committed, for GitOps.`,
		Example: `  kubectl iter8-route resume checkout -n shop
  kubectl iter8-route status checkout -n shop -w`,
		Args: cobra.ExactArgs(1),
	}, func([]string) (edit, error) { return resume(time.Now()), nil })
}

// NewAbortCommand returns the abort command.
func NewAbortCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	return newEditCommand(streams, flags, &cobra.Command{
		Use:   "abort NAME",
		Short: "Send all traffic back to the primary",
		Long: `Give the primary of the Route NAME all traffic: weight 100, the other versions 0.
A canary or A/B/n Route becomes blue-green (its matches are dropped); a mirror
Route stops mirroring.

For a Route with a rollout, the controller rolls the candidate back at once,
whatever step it is at, and records why.`,
		Example: `  kubectl iter8-route abort checkout -n shop`,
		Args:    cobra.ExactArgs(1),
	}, func([]string) (edit, error) { return abort(time.Now()), nil })
}

// Complete resolves the namespace.
func (o *EditOptions) Complete() error {
	ns, explicit, err := o.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return fmt.Errorf("reading the namespace: %w", err)
	}
	o.namespace, o.explicitNamespace = ns, explicit
	return nil
}

// Validate checks the flags.
func (o *EditOptions) Validate() error {
	switch {
	case o.Push && o.GitDir == "":
		return errors.New("flag --push needs --git: it pushes the commit made")
	case o.Remote == "":
		return errors.New("flag --remote must not be empty")
	}
	return nil
}

// Run changes the Route.
func (o *EditOptions) Run(ctx context.Context) error {
	if o.GitDir != "" {
		return o.runGit(ctx)
	}
	c, _, err := routeClient(o.ConfigFlags)
	if err != nil {
		return err
	}
	var msg string
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		r := &v1alpha1.Route{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: o.namespace, Name: o.Name}, r); err != nil {
			return err
		}
		if msg, err = o.edit(r); err != nil {
			return err
		}
		if errs := r.Validate(); len(errs) > 0 {
			return fmt.Errorf("the change would make the Route invalid: %w", errs.ToAggregate())
		}
		return c.Update(ctx, r)
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.Out, "route.iter8.tools/%s: %s\n", o.Name, msg)
	return err
}

// runGit changes the Route's file in the checkout and commits it.
func (o *EditOptions) runGit(ctx context.Context) error {
	repo, err := gitops.OpenRepository(o.GitDir)
	if err != nil {
		return err
	}
	ns := ""
	if o.explicitNamespace {
		ns = o.namespace
	}
	file, err := findRouteFile(o.GitDir, o.Name, ns)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	old, err := route.Parse(file, data)
	if err != nil {
		return err
	}
	r := old.DeepCopy()
	msg, err := o.edit(r)
	if err != nil {
		return err
	}
	out, err := editFile(data, old, r)
	if err != nil {
		return err
	}
	if _, err := route.Parse(file, out); err != nil {
		return fmt.Errorf("the change would make the Route invalid: %w", err)
	}
	if err := os.WriteFile(file, out, 0o644); err != nil {
		return err
	}
	subject := fmt.Sprintf("route %s: %s", r.Name, msg)
	h, err := repo.Commit(ctx, gitops.CommitOptions{Paths: []string{file}, Message: subject + "\n"})
	if err != nil {
		return fmt.Errorf("committing %s: %w", file, err)
	}
	if h.IsZero() {
		fmt.Fprintf(o.ErrOut, "nothing to commit: %s already says so\n", file)
	} else {
		fmt.Fprintf(o.ErrOut, "committed %s: %s\n", short(h), subject)
	}
	if o.Push {
		if err := push(ctx, repo, o.Remote); err != nil {
			return err
		}
		fmt.Fprintf(o.ErrOut, "pushed to %s\n", o.Remote)
	}
	_, err = fmt.Fprintf(o.Out, "%s: route %s: %s\n", file, r.Name, msg)
	return err
}

// findRouteFile finds the one file under dir that holds the Route name (in
// namespace ns, when given).
func findRouteFile(dir, name, ns string) (string, error) {
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil || !strings.Contains(string(b), "kind: Route") {
			return err
		}
		r, err := route.Parse(path, b)
		if err != nil || r.Name != name || ns != "" && r.Namespace != "" && r.Namespace != ns {
			return nil // not a file of this Route: skip it
		}
		found = append(found, path)
		return nil
	})
	switch {
	case err != nil:
		return "", err
	case len(found) == 0:
		return "", fmt.Errorf("no file under %s holds a valid Route named %s", dir, name)
	case len(found) > 1:
		return "", fmt.Errorf("several files under %s hold a Route named %s: %s; give -n to choose", dir, name, strings.Join(found, ", "))
	}
	return found[0], nil
}

// editFile writes the change from old to r into the file's bytes: in place,
// value by value, when only values of existing fields change (so a weight
// change touches only the weight lines); otherwise the Route is written
// anew in canonical form.
func editFile(data []byte, old, r *v1alpha1.Route) ([]byte, error) {
	if out, ok := editInPlace(data, old, r); ok {
		return out, nil
	}
	c := r.DeepCopy()
	c.Status = v1alpha1.RouteStatus{}
	return sigsyaml.Marshal(c)
}

// scalarEdit replaces the value of one scalar node.
type scalarEdit struct {
	node  *yaml.Node
	value string
}

func editInPlace(data []byte, old, r *v1alpha1.Route) ([]byte, bool) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) != 1 {
		return nil, false
	}
	spec := child(doc.Content[0], "spec")
	versions := child(spec, "versions")
	if spec == nil || versions == nil || versions.Kind != yaml.SequenceNode || len(versions.Content) != len(r.Spec.Versions) {
		return nil, false
	}
	var edits []scalarEdit
	set := func(parent *yaml.Node, key, value string) bool {
		n := child(parent, key)
		if n == nil || n.Kind != yaml.ScalarNode {
			return false
		}
		edits = append(edits, scalarEdit{node: n, value: value})
		return true
	}
	if old.Spec.Strategy != r.Spec.Strategy && !set(spec, "strategy", string(r.Spec.Strategy)) {
		return nil, false
	}
	for i := range r.Spec.Versions {
		ov, nv, item := old.Spec.Versions[i], r.Spec.Versions[i], versions.Content[i]
		if (ov.Match == nil) != (nv.Match == nil) || (ov.Weight == nil) != (nv.Weight == nil) {
			return nil, false
		}
		if nv.Weight != nil && *ov.Weight != *nv.Weight && !set(item, "weight", fmt.Sprint(*nv.Weight)) {
			return nil, false
		}
		if ov.Primary != nv.Primary && !set(item, "primary", fmt.Sprint(nv.Primary)) {
			return nil, false
		}
	}
	// From the end, so that an edit does not move the next one.
	slices.SortFunc(edits, func(a, b scalarEdit) int {
		return cmp.Or(cmp.Compare(b.node.Line, a.node.Line), cmp.Compare(b.node.Column, a.node.Column))
	})
	lines := strings.SplitAfter(string(data), "\n")
	for _, e := range edits {
		n := e.node
		if n.Style != 0 || n.Line < 1 || n.Line > len(lines) {
			return nil, false // quoted or odd: rewrite instead
		}
		line := lines[n.Line-1]
		start := n.Column - 1
		if start+len(n.Value) > len(line) || line[start:start+len(n.Value)] != n.Value {
			return nil, false
		}
		lines[n.Line-1] = line[:start] + e.value + line[start+len(n.Value):]
	}
	return []byte(strings.Join(lines, "")), true
}

// child is the value of key in a mapping node, or nil.
func child(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
