package abn

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/iter8-tools/iter8/pkg/abn/deploy"
	"github.com/iter8-tools/iter8/pkg/cli"
)

// FieldManager is the server-side apply field manager of deploy.
const FieldManager = "iter8"

// DeployOptions are the options of deploy.
type DeployOptions struct {
	genericiooptions.IOStreams
	// Flags are kubectl's configuration flags.
	Flags *genericclioptions.ConfigFlags
	// Deploy describes the objects (--name, --image, --replicas, --store,
	// --store-password-secret, --storage-size, --storage-class).
	Deploy deploy.Options
	// AppsFile is an applications file to serve (--apps).
	AppsFile string
	// Manifests print the objects instead (--dry-run, -o) or write them
	// (--out).
	Manifests *cli.ManifestFlags
	// Pin pins the image by digest (--pin, --image-layout).
	Pin cli.PinFlags
}

// NewDeployCommand returns the deploy command.
func NewDeployCommand(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DeployOptions{IOStreams: streams, Flags: f, Manifests: cli.NewManifestFlags(true)}
	cmd := &cobra.Command{
		Use:   "deploy [--store embedded|redis://HOST:PORT] [--replicas N] [--dry-run [-o yaml|json|name] | --out DIR]",
		Short: "Deploy the A/B/n service into a namespace",
		Long: `Deploy the A/B/n service into the namespace (-n): a ServiceAccount, a Role that may
only read Routes and the Deployments, Services and InferenceServices their versions
name, its RoleBinding, a Service (gRPC on 50051, HTTP on 8080) and a Deployment.

The embedded store (the default) keeps data in a file on a PersistentVolumeClaim and
serves one replica; with --store redis://HOST:PORT, several replicas share Redis.

The objects are applied with server-side apply; --dry-run prints them instead, and
--out DIR writes them as a kustomize directory for GitOps.`,
		Example: `  kubectl iter8-abn deploy -n shop
  kubectl iter8-abn deploy -n shop --store redis://redis.shop:6379 --replicas 3
  kubectl iter8-abn deploy -n shop --dry-run -o yaml
  kubectl iter8-abn deploy -n shop --out clusters/prod/shop/iter8-abn`,
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
	fl := cmd.Flags()
	fl.StringVar(&o.Deploy.Name, "name", "iter8-abn", "name of the objects")
	fl.StringVar(&o.Deploy.Image, "image", deploy.DefaultImage(), "image of the service (entrypoint kubectl-iter8_abn)")
	fl.Int32Var(&o.Deploy.Replicas, "replicas", 1, "replicas of the service; more than one needs a Redis --store")
	fl.StringVar(&o.Deploy.Store, "store", deploy.StoreEmbedded, "store: embedded (a file on a PersistentVolumeClaim) or redis://HOST:PORT[/DB] (rediss:// for TLS)")
	fl.StringVar(&o.Deploy.StorePasswordSecret, "store-password-secret", "", "Secret whose key \"password\" holds the Redis password")
	fl.StringVar(&o.Deploy.StorageSize, "storage-size", "1Gi", "size of the embedded store's volume")
	fl.StringVar(&o.Deploy.StorageClass, "storage-class", "", "storage class of the embedded store's volume (default: the cluster's)")
	fl.BoolVar(&o.Deploy.GrafanaDashboard, "grafana-dashboard", false, "add the service's Grafana dashboard in a ConfigMap labelled grafana_dashboard: \"1\" (for Grafana's dashboard sidecar)")
	fl.StringSliceVar(&o.Deploy.ReadinessResources, "readiness-resource", nil, "GROUP/RESOURCE of other kinds that versions name as readiness objects (repeatable), e.g. argoproj.io/rollouts: the service may read them")
	fl.StringVar(&o.AppsFile, "apps", "", "serve the applications of this file (a ConfigMap) instead of reading Routes")
	o.Manifests.AddFlags(cmd, "applying")
	_ = cmd.MarkFlagFilename("apps", "yaml", "yml")
	o.Pin.AddFlags(fl)
	_ = cmd.MarkFlagDirname("image-layout")
	return cmd
}

// Complete resolves the namespace, reads the applications file and builds
// the objects.
func (o *DeployOptions) Complete() error {
	ns, _, err := o.Flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return fmt.Errorf("reading the kubeconfig: %w", err)
	}
	o.Deploy.Namespace = ns
	if o.AppsFile != "" {
		if o.Deploy.Apps, err = os.ReadFile(o.AppsFile); err != nil {
			return fmt.Errorf("flag --apps: %w", err)
		}
	}
	o.Deploy.Default()
	return nil
}

// Validate checks the flags.
func (o *DeployOptions) Validate() error {
	var errs []error
	if err := o.Manifests.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := o.Deploy.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Run prints, writes or applies the objects.
func (o *DeployOptions) Run(ctx context.Context) error {
	cli.WarnDefaultImage(o.ErrOut, o.Deploy.Image, deploy.DefaultImage())
	var err error
	if o.Deploy.Image, err = o.Pin.Apply(ctx, o.Deploy.Image); err != nil {
		return err
	}
	objs, err := deploy.Objects(o.Deploy)
	if err != nil {
		return err
	}
	if done, err := o.Manifests.Emit(o.Out, o.ErrOut, objs); done {
		return err
	}
	return cli.ApplyObjects(ctx, o.Flags, FieldManager, objs, o.Out)
}
