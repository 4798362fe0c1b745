package route

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/gitops"
	"github.com/iter8-tools/iter8/pkg/reconcile"
)

// Values of --dry-run.
const (
	DryRunNone   = "none"
	DryRunClient = "client"
)

// InstallFieldManager is the server-side apply field manager of install.
const InstallFieldManager = "iter8-route-install"

// InstallOptions are the options of install.
type InstallOptions struct {
	genericiooptions.IOStreams
	// ConfigFlags give the cluster, and with -n the namespace.
	ConfigFlags *genericclioptions.ConfigFlags
	// Install shapes the objects.
	Install reconcile.InstallOptions
	// DryRun is none or client (--dry-run).
	DryRun string
	// Output is -o yaml|json, with --dry-run.
	Output *cli.OutputFlags
	// OutDir is the kustomize folder to write (--out).
	OutDir string
	// Pin pins the image by digest (--pin, --image-layout).
	Pin cli.PinFlags

	outputSet bool
}

// NewInstallOptions returns the options of install with their defaults.
func NewInstallOptions(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *InstallOptions {
	return &InstallOptions{IOStreams: streams, ConfigFlags: flags, DryRun: DryRunNone, Output: cli.NewOutputFlags(cli.OutputYAML, cli.OutputJSON)}
}

// NewInstallCommand returns the install command.
func NewInstallCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := NewInstallOptions(streams, flags)
	cmd := &cobra.Command{
		Use:   "install [--dry-run -o yaml|json | --out DIR]",
		Short: "Install the Route controller: CRD, RBAC, ServiceAccount, Deployment, metrics Service",
		Long: `Install the Route controller in the namespace of -n (default iter8-system) with
server-side apply: the Route CRD, a ServiceAccount, least-privilege RBAC, a
Deployment of leader-elected replicas and a Service for its Prometheus metrics.

The controller may read and watch Routes, Services, Deployments, KServe
InferenceServices and Flux Kustomizations; patch the Services, Deployments and
InferenceServices that versions name (to hold them with its finalizer); apply and
delete the routing it renders (Istio VirtualServices, DestinationRules and
ServiceEntries, Gateway API HTTPRoutes and GRPCRoutes, Traefik IngressRoutes,
TraefikServices and Middlewares, Services); get Secrets (the
credentials of Git sinks); write events; and hold a Lease in its namespace. For
readiness objects of other kinds, add --readiness-resource GROUP/RESOURCE.

With --namespaced, the controller reconciles only the Routes of its namespace and
gets a Role there instead of a ClusterRole (the namespace must exist).
With --dry-run, print the objects instead; with --out, write them as a kustomize
folder for GitOps.`,
		Example: `  kubectl iter8-route install
  kubectl iter8-route install --dry-run -o yaml
  kubectl iter8-route install -n shop --namespaced --out clusters/prod/iter8`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.outputSet = cmd.Flags().Changed("output")
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.DryRun, "dry-run", DryRunNone, `"client" prints the objects instead of applying them`)
	f.Lookup("dry-run").NoOptDefVal = DryRunClient
	f.StringVar(&o.OutDir, "out", "", "write the objects as a kustomize folder instead of applying them")
	f.BoolVar(&o.Install.Namespaced, "namespaced", false, "reconcile only the Routes of the controller's namespace, with a Role instead of a ClusterRole")
	f.StringVar(&o.Install.Image, "image", "", "image of the controller (default "+reconcile.DefaultImage()+")")
	f.Int32Var(&o.Install.Replicas, "replicas", 2, "replicas of the controller; one is elected leader")
	f.BoolVar(&o.Install.GrafanaDashboard, "grafana-dashboard", false, "add the controller's Grafana dashboard in a ConfigMap labelled grafana_dashboard: \"1\" (for Grafana's dashboard sidecar)")
	f.StringSliceVar(&o.Install.ReadinessResources, "readiness-resource", nil, "GROUP/RESOURCE of other kinds that versions name as readiness objects (repeatable), e.g. argoproj.io/rollouts")
	o.Output.AddFlags(cmd)
	o.Pin.AddFlags(f)
	_ = cmd.MarkFlagDirname("out")
	_ = cmd.MarkFlagDirname("image-layout")
	return cmd
}

// Complete takes the namespace from -n, else the default.
func (o *InstallOptions) Complete() error {
	ns, explicit, err := o.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return fmt.Errorf("reading the namespace: %w", err)
	}
	if explicit {
		o.Install.Namespace = ns
	}
	o.Install.Default()
	return nil
}

// Validate checks the flags.
func (o *InstallOptions) Validate() error {
	switch {
	case o.DryRun != DryRunNone && o.DryRun != DryRunClient:
		return fmt.Errorf("invalid value %q for flag --dry-run: allowed values are none, client", o.DryRun)
	case o.DryRun == DryRunClient && o.OutDir != "":
		return errors.New("flags --dry-run and --out cannot be used together: print the objects, or write them")
	case o.outputSet && o.DryRun != DryRunClient:
		return errors.New("flag -o/--output needs --dry-run: it prints the objects instead of applying them")
	}
	if err := o.Output.Validate(); err != nil {
		return err
	}
	if err := o.Install.Validate(); err != nil {
		return fmt.Errorf("invalid flags: %w", err)
	}
	return nil
}

// Run prints, writes or applies the objects.
func (o *InstallOptions) Run(ctx context.Context) error {
	cli.WarnDefaultImage(o.ErrOut, o.Install.Image, reconcile.DefaultImage())
	var err error
	if o.Install.Image, err = o.Pin.Apply(ctx, o.Install.Image); err != nil {
		return err
	}
	objs, err := reconcile.InstallObjects(o.Install)
	if err != nil {
		return err
	}
	switch {
	case o.DryRun == DryRunClient:
		return cli.PrintObjects(o.Out, o.Output.Format, objs)
	case o.OutDir != "":
		if err := gitops.WriteDir(o.OutDir, objs); err != nil {
			return fmt.Errorf("writing %s: %w", o.OutDir, err)
		}
		fmt.Fprintf(o.ErrOut, "wrote %d objects to %s\n", len(objs), o.OutDir)
		return nil
	}
	err = cli.ApplyObjects(ctx, o.ConfigFlags, InstallFieldManager, objs, func(_ *meta.RESTMapping, obj *unstructured.Unstructured) {
		fmt.Fprintf(o.ErrOut, "applied %s %s\n", obj.GetKind(), qualifiedName(obj))
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "installed %s in namespace %s\n", reconcile.ControllerName, o.Install.Namespace)
	return nil
}

func qualifiedName(obj *unstructured.Unstructured) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}
