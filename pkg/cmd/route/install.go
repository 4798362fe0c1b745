package route

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/reconcile"
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
	// Manifests print the objects instead (--dry-run, -o) or write them
	// (--out).
	Manifests *cli.ManifestFlags
	// Pin pins the image by digest (--pin, --image-layout).
	Pin cli.PinFlags
}

// NewInstallOptions returns the options of install with their defaults.
func NewInstallOptions(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *InstallOptions {
	return &InstallOptions{IOStreams: streams, ConfigFlags: flags, Manifests: cli.NewManifestFlags(true)}
}

// NewInstallCommand returns the install command.
func NewInstallCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := NewInstallOptions(streams, flags)
	cmd := &cobra.Command{
		Use:   "install [--dry-run [-o yaml|json|name] | --out DIR]",
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
	o.Manifests.AddFlags(cmd, "applying")
	f.BoolVar(&o.Install.Namespaced, "namespaced", false, "reconcile only the Routes of the controller's namespace, with a Role instead of a ClusterRole")
	f.StringVar(&o.Install.Image, "image", "", "image of the controller (default "+reconcile.DefaultImage()+")")
	f.Int32Var(&o.Install.Replicas, "replicas", 2, "replicas of the controller; one is elected leader")
	f.BoolVar(&o.Install.GrafanaDashboard, "grafana-dashboard", false, "add the controller's Grafana dashboard in a ConfigMap labelled grafana_dashboard: \"1\" (for Grafana's dashboard sidecar)")
	f.StringSliceVar(&o.Install.ReadinessResources, "readiness-resource", nil, "GROUP/RESOURCE of other kinds that versions name as readiness objects (repeatable), e.g. argoproj.io/rollouts")
	o.Pin.AddFlags(f)
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
	if err := o.Manifests.Validate(); err != nil {
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
	if done, err := o.Manifests.Emit(o.Out, o.ErrOut, objs); done {
		return err
	}
	if err := cli.ApplyObjects(ctx, o.ConfigFlags, InstallFieldManager, objs, o.Out); err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "installed %s in namespace %s\n", reconcile.ControllerName, o.Install.Namespace)
	return nil
}
