package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"

	"github.com/iter8-tools/iter8/internal/manifest"
	"github.com/iter8-tools/iter8/pkg/gitops"
)

// Values of --dry-run, as kubectl's.
const (
	DryRunNone   = "none"
	DryRunClient = "client"
)

// ManifestFlags are the flags of every command that makes objects in a
// cluster (launch, install, deploy): --dry-run[=client] prints them instead,
// as -o yaml (default), json or name says; --out DIR, where the command
// offers it, writes them as a kustomize directory for Git.
type ManifestFlags struct {
	// DryRun is none or client (--dry-run).
	DryRun string
	// OutDir is the kustomize directory of --out.
	OutDir string
	// Output is -o, with --dry-run.
	Output *OutputFlags

	withOut bool
	verb    string
	flags   *pflag.FlagSet
}

// NewManifestFlags returns the flags; withOut offers --out.
func NewManifestFlags(withOut bool) *ManifestFlags {
	return &ManifestFlags{DryRun: DryRunNone, Output: NewOutputFlags(OutputYAML, OutputJSON, OutputName), withOut: withOut}
}

// AddFlags registers --dry-run, -o and, if offered, --out on cmd, whose
// verb (applying, creating) says what it does with the objects otherwise.
func (f *ManifestFlags) AddFlags(cmd *cobra.Command, verb string) {
	f.verb = verb
	fs := cmd.Flags()
	fs.StringVar(&f.DryRun, "dry-run", DryRunNone, fmt.Sprintf(`"client" prints the objects instead of %s them (none, client)`, verb))
	fs.Lookup("dry-run").NoOptDefVal = DryRunClient
	f.Output.AddFlags(cmd)
	f.flags = fs
	if f.withOut {
		fs.StringVar(&f.OutDir, "out", "", fmt.Sprintf("write the objects as a kustomize directory (a file per object and kustomization.yaml) instead of %s them", verb))
		_ = cmd.MarkFlagDirname("out")
	}
}

// Validate rejects a --dry-run value that is not allowed, --dry-run with
// --out, and -o without --dry-run.
func (f *ManifestFlags) Validate() error {
	switch {
	case f.DryRun != DryRunNone && f.DryRun != DryRunClient:
		return fmt.Errorf("invalid value %q for flag --dry-run: allowed values are none, client", f.DryRun)
	case f.DryRun == DryRunClient && f.OutDir != "":
		return errors.New("flags --dry-run and --out cannot be used together: print the objects, or write them")
	case f.flags != nil && f.flags.Changed("output") && f.DryRun != DryRunClient:
		return fmt.Errorf("flag -o/--output needs --dry-run: it prints the objects instead of %s them", f.verb)
	}
	return f.Output.Validate()
}

// Emit prints objs (--dry-run) to out or writes them to --out, reporting
// the directory to errOut, and says whether it did; if not, the command
// makes them in the cluster.
func (f *ManifestFlags) Emit(out, errOut io.Writer, objs []*unstructured.Unstructured) (bool, error) {
	switch {
	case f.DryRun == DryRunClient:
		return true, PrintObjects(out, f.Output.Format, objs)
	case f.OutDir != "":
		if err := gitops.WriteDir(f.OutDir, objs); err != nil {
			return true, fmt.Errorf("writing %s: %w", f.OutDir, err)
		}
		fmt.Fprintf(errOut, "wrote %d objects and %s to %s\n", len(objs), gitops.KustomizationFile, f.OutDir)
		return true, nil
	}
	return false, nil
}

// PrintObjects writes objects as kubectl prints several: -o yaml as YAML
// documents separated by "---", -o json as a List, -o name as
// kind.group/name a line each (manifest.Print).
func PrintObjects(w io.Writer, format string, objs []*unstructured.Unstructured) error {
	if format != OutputName {
		return manifest.Print(w, format, objs)
	}
	var b strings.Builder
	for _, obj := range objs {
		b.WriteString(ObjectName(obj.GroupVersionKind().GroupKind().String(), obj.GetName()) + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ObjectName is an object as kubectl names it: kind.group/name in lower case
// (deployment.apps/iter8-abn, serviceaccount/iter8-abn), from a group kind
// written Kind.group.
func ObjectName(groupKind, name string) string {
	return strings.ToLower(groupKind) + "/" + name
}

// ApplyObjects applies objects in order with server-side apply as
// fieldManager, taking ownership of conflicting fields, to the cluster of
// flags, writing each as kubectl apply --server-side does to out.
func ApplyObjects(ctx context.Context, flags *genericclioptions.ConfigFlags, fieldManager string, objs []*unstructured.Unstructured, out io.Writer) error {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("connecting to the cluster: %w", err)
	}
	mapper, err := flags.ToRESTMapper()
	if err != nil {
		return fmt.Errorf("connecting to the cluster: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("connecting to the cluster: %w", err)
	}
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("finding the resource of %s: %w", gvk.Kind, err)
		}
		_, err = dyn.Resource(m.Resource).Namespace(obj.GetNamespace()).Apply(ctx, obj.GetName(), obj,
			metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
		if err != nil {
			return fmt.Errorf("applying %s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		fmt.Fprintf(out, "%s serverside-applied\n", ObjectName(gvk.GroupKind().String(), obj.GetName()))
	}
	return nil
}
