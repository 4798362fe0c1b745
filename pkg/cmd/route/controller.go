package route

import (
	"context"
	"fmt"

	"github.com/fluxcd/pkg/runtime/logger"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"

	"github.com/iter8-tools/iter8/pkg/reconcile"
)

// ControllerOptions are the options of controller.
type ControllerOptions struct {
	genericiooptions.IOStreams
	// ConfigFlags give the cluster; in a pod, its ServiceAccount.
	ConfigFlags *genericclioptions.ConfigFlags
	// Controller are the reconciler's options.
	Controller reconcile.Options
	// Log configures the logger (--log-level, --log-encoding).
	Log logger.Options
	// QPS and Burst limit the API client's requests (--kube-api-qps and
	// --kube-api-burst, named and defaulted as Flux's).
	QPS   float32
	Burst int

	config *rest.Config
}

// NewControllerOptions returns the options of controller with their defaults.
func NewControllerOptions(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *ControllerOptions {
	return &ControllerOptions{IOStreams: streams, ConfigFlags: flags, Controller: reconcile.DefaultOptions()}
}

// NewControllerCommand returns the controller command.
func NewControllerCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := NewControllerOptions(streams, flags)
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the Route controller: traffic only to ready versions, through the Route's sink",
		Long: `Run the reconciler of Routes until interrupted: in the cluster from the Deployment
that "kubectl iter8-route install" writes, or from a laptop with a kubeconfig.

For every Route it reads the objects each version names (its Service or
InferenceService and its readiness objects), renders the routing for the versions
that are ready, and writes it to the Route's sink: server-side apply (sink apply,
the default) or a commit pushed to the Git repository Flux applies (sink git). It
reacts to changes of those objects as they happen. The objects of non-primary
versions get the Route's finalizer, route.iter8.tools/NAMESPACE.NAME; when one is
deleted, traffic is routed away from it, the new routing is confirmed live (and
accepted by the Gateways' controllers that report on it), and only after
--drain-delay is the finalizer removed.

Status is in each Route's conditions (Ready, Reconciling, Stalled), its events and
the Prometheus metrics on --metrics-addr. With --enable-leader-election, several
replicas run and one reconciles. Logs go to stderr.`,
		Example: `  # from a laptop, against the current kubeconfig context
  kubectl iter8-route controller --metrics-addr=127.0.0.1:8080 --health-addr=127.0.0.1:9440 --log-encoding=console

  # only the Routes of one namespace, with leader election
  kubectl iter8-route controller --watch-namespace shop --enable-leader-election -n shop`,
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
	c := &o.Controller
	f.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "address of the Prometheus metrics endpoint; 0 turns it off")
	f.StringVar(&c.HealthAddr, "health-addr", c.HealthAddr, "address of the /healthz and /readyz endpoints; 0 turns them off")
	f.IntVar(&c.Concurrent, "concurrent", c.Concurrent, "number of Routes reconciled at once")
	f.DurationVar(&c.Interval, "interval", c.Interval, "how often a Ready Route is reconciled again to correct drift; changes are reconciled as they happen; 0 never")
	f.DurationVar(&c.DrainDelay, "drain-delay", c.DrainDelay, "how long routing that takes traffic from a version's objects must have been live (and accepted by the data planes that report on it) before they are released, for the data planes to apply it; 0 at once")
	f.StringVar(&c.GitDir, "git-dir", c.GitDir, "folder for the clones of Git sinks (default a folder in the system's temporary folder)")
	f.StringSliceVar(&c.Namespaces, "watch-namespace", c.Namespaces, "reconcile only the Routes, and read only the objects, of these namespaces (repeatable; default all)")
	f.StringVar(&c.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease (default the namespace of -n, or of the pod)")
	c.LeaderElection.BindFlags(f)
	c.RateLimiter.BindFlags(f)
	o.Log.BindFlags(f)
	f.Float32Var(&o.QPS, "kube-api-qps", 50, "the maximum queries-per-second of requests sent to the Kubernetes API")
	f.IntVar(&o.Burst, "kube-api-burst", 300, "the maximum burst of requests sent to the Kubernetes API")
	return cmd
}

// Complete builds the client configuration.
func (o *ControllerOptions) Complete() error {
	cfg, err := o.ConfigFlags.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("reading the kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = o.QPS, o.Burst
	cfg.UserAgent = rest.DefaultKubernetesUserAgent() + " " + reconcile.ControllerName
	o.config = cfg
	if o.Controller.LeaderElectionNamespace == "" && o.Controller.LeaderElection.Enable {
		ns, _, err := o.ConfigFlags.ToRawKubeConfigLoader().Namespace()
		if err != nil {
			return fmt.Errorf("reading the namespace: %w", err)
		}
		o.Controller.LeaderElectionNamespace = ns
	}
	return nil
}

// Validate checks the flags.
func (o *ControllerOptions) Validate() error {
	switch o.Log.LogLevel {
	case "trace", "debug", "info", "error":
	default:
		return fmt.Errorf("invalid value %q for flag --log-level: allowed values are trace, debug, info, error", o.Log.LogLevel)
	}
	switch o.Log.LogEncoding {
	case "json", "console":
	default:
		return fmt.Errorf("invalid value %q for flag --log-encoding: allowed values are json, console", o.Log.LogEncoding)
	}
	if o.QPS <= 0 || o.Burst <= 0 {
		return fmt.Errorf("flags --kube-api-qps (%g) and --kube-api-burst (%d) must be above 0", o.QPS, o.Burst)
	}
	if err := o.Controller.Validate(); err != nil {
		return fmt.Errorf("invalid flags: %w", err)
	}
	return nil
}

// Run runs the controller until the context is done.
func (o *ControllerOptions) Run(ctx context.Context) error {
	log := logger.NewLogger(o.Log)
	logger.SetLogger(log)
	// Logs go to stderr, like every progress message of the plugins.
	o.Controller.Logger = log
	fmt.Fprintf(o.ErrOut, "starting %s against %s\n", reconcile.ControllerName, o.config.Host)
	return reconcile.Run(ctx, o.config, o.Controller)
}
