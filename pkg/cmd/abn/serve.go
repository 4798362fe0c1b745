package abn

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"

	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/abn/routes"
	"github.com/iter8-tools/iter8/pkg/abn/service"
	"github.com/iter8-tools/iter8/pkg/abn/store"
)

// ServeOptions are the options of serve.
type ServeOptions struct {
	genericiooptions.IOStreams
	// Flags are kubectl's configuration flags: without --apps the
	// service reads the Routes of the namespace (-n) with them (in a pod:
	// its ServiceAccount).
	Flags *genericclioptions.ConfigFlags
	// GRPCAddress is where the gRPC API listens (--grpc-address).
	GRPCAddress string
	// HTTPAddress is where results, metrics and probes listen
	// (--http-address).
	HTTPAddress string
	// Store is the store's URL (--store).
	Store string
	// AppsFile is the applications file (--apps).
	AppsFile string
	// AssignmentFlushInterval is --assignment-flush-interval.
	AssignmentFlushInterval time.Duration

	apps abn.Applications
	// cfg and namespace say where to read Routes, without --apps;
	// namespace also qualifies application names in Iter8's API.
	cfg       *rest.Config
	namespace string
}

// NewServeCommand returns the serve command, which runs the service. It is
// hidden: the Deployment of deploy runs it, and so do tests and local
// trials.
func NewServeCommand(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ServeOptions{IOStreams: streams, Flags: f}
	cmd := &cobra.Command{
		Use:    "serve [--apps FILE] [--store URL]",
		Short:  "Run the A/B/n service",
		Hidden: true,
		Long: `Run the A/B/n service in this process: the gRPC API on --grpc-address, and results
(/v1/results/APP), Prometheus metrics (/metrics) and probes (/healthz, /readyz) on
--http-address, until interrupted. The log goes to stderr.

The applications are those of the applications file (--apps), else those of the
Routes with the abn strategy in the namespace (-n), watched with the kubeconfig (in a
pod: its ServiceAccount).`,
		Example: `  kubectl iter8-abn serve --apps apps.yaml --store bolt:abn.db
  kubectl iter8-abn serve -n shop --store bolt:abn.db`,
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
	cmd.Flags().StringVar(&o.GRPCAddress, "grpc-address", fmt.Sprintf(":%d", 50051), "address of the gRPC API")
	cmd.Flags().StringVar(&o.HTTPAddress, "http-address", ":8080", "address of results, metrics and probes")
	cmd.Flags().StringVar(&o.Store, "store", "bolt:abn.db", "store: bolt:PATH (embedded) or redis://HOST:PORT[/DB] ($REDIS_PASSWORD for a password)")
	cmd.Flags().StringVar(&o.AppsFile, "apps", "", "applications file: names, versions, weights and readiness (docs/abn.md)")
	cmd.Flags().DurationVar(&o.AssignmentFlushInterval, "assignment-flush-interval", time.Second, "how often the users lookups assign are written to the store")
	_ = cmd.MarkFlagFilename("apps", "yaml", "yml")
	return cmd
}

// Validate checks the flags.
func (o *ServeOptions) Validate() error {
	if o.AssignmentFlushInterval <= 0 {
		return fmt.Errorf("invalid value %v for flag --assignment-flush-interval: must be positive", o.AssignmentFlushInterval)
	}
	return nil
}

// Complete reads the applications file, or else the client configuration
// and namespace of the Routes.
func (o *ServeOptions) Complete() error {
	if o.AppsFile == "" {
		cfg, err := o.Flags.ToRESTConfig()
		if err != nil {
			return fmt.Errorf("without --apps the applications are read from Routes: %w", err)
		}
		ns, _, err := o.Flags.ToRawKubeConfigLoader().Namespace()
		if err != nil {
			return fmt.Errorf("without --apps the applications are read from Routes: %w", err)
		}
		o.cfg, o.namespace = cfg, ns
		return nil
	}
	// Iter8's API names applications namespace/name: with --apps, the
	// namespace is -n's (in a pod: its own), else default.
	if o.Flags.Namespace != nil && *o.Flags.Namespace != "" {
		o.namespace = *o.Flags.Namespace
	} else if ns, ok := podNamespace(); ok {
		o.namespace = ns
	}
	apps, err := abn.ReadAppsFile(o.AppsFile)
	if err != nil {
		return err
	}
	o.apps = apps
	return nil
}

// Run serves until ctx ends.
func (o *ServeOptions) Run(ctx context.Context) error {
	log := slog.New(slog.NewTextHandler(o.ErrOut, nil))
	apps := o.apps
	if apps == nil {
		ra, err := routes.NewRouteApplications(ctx, o.cfg, o.namespace)
		if err != nil {
			return err
		}
		log.Info("reading applications from Routes", "namespace", o.namespace, "applications", ra.Names())
		apps = ra
	}
	st, err := store.Open(ctx, o.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	var lc net.ListenConfig
	grpcLis, err := lc.Listen(ctx, "tcp", o.GRPCAddress)
	if err != nil {
		return fmt.Errorf("flag --grpc-address: %w", err)
	}
	httpLis, err := lc.Listen(ctx, "tcp", o.HTTPAddress)
	if err != nil {
		_ = grpcLis.Close()
		return fmt.Errorf("flag --http-address: %w", err)
	}
	tuneGC(ctx)
	svc := service.New(apps, st, service.Options{AssignmentFlushInterval: o.AssignmentFlushInterval, Logger: log, Namespace: o.namespace})
	err = svc.Run(ctx, grpcLis, httpLis)
	log.Info("stopped")
	return err
}

// serviceAccountNamespace is where a pod finds its namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// podNamespace is the namespace of the pod the service runs in, if it runs
// in one.
func podNamespace() (string, bool) {
	b, err := os.ReadFile(serviceAccountNamespace)
	ns := strings.TrimSpace(string(b))
	return ns, err == nil && ns != ""
}

// Memory the collector may use, unless GOGC or GOMEMLIMIT say otherwise.
const (
	// gcFloor is the heap the collector lets the service reach before it
	// collects, however small the live heap.
	gcFloor = 48 << 20
	// gcSlack is added to 1.25 times the live heap once that is larger.
	gcSlack = 8 << 20
)

// tuneGC trades a little memory for a lot of CPU. The service's live heap
// is small (a few MiB, plus about 16 bytes per assigned user with the
// embedded store), and the garbage of a call is a few KiB; with Go's
// default the collector would run every few thousand calls and, with the
// stack shrinking it does, take a third of the service's CPU. So the heap
// may grow to max(48 MiB, 1.25 × live + 8 MiB) before a collection, checked
// every second as the live heap grows. GOGC or GOMEMLIMIT in the
// environment turn this off.
func tuneGC(ctx context.Context) {
	_, gogc := os.LookupEnv("GOGC")
	_, limit := os.LookupEnv("GOMEMLIMIT")
	if gogc || limit {
		return
	}
	debug.SetGCPercent(-1)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	set := func() {
		metrics.Read(sample)
		live := int64(sample[0].Value.Uint64())
		debug.SetMemoryLimit(max(gcFloor, live+live/4+gcSlack))
	}
	set()
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				set()
			}
		}
	}()
}
