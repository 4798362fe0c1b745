package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	fluxcontroller "github.com/fluxcd/pkg/runtime/controller"
	"github.com/fluxcd/pkg/runtime/events"
	"github.com/fluxcd/pkg/runtime/leaderelection"
	"github.com/fluxcd/pkg/runtime/metrics"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/iter8-tools/iter8/pkg/readiness"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// LeaderElectionID names the Lease the replicas of the controller compete
// for.
const LeaderElectionID = "iter8-route-controller"

// Options configure Run. Start from DefaultOptions.
type Options struct {
	// Namespaces, when set, restricts the controller to Routes, and to
	// objects, in these namespaces (it then needs no cluster-wide access).
	// Empty: all namespaces.
	Namespaces []string
	// MetricsAddr is where the Prometheus metrics are served; "0" turns
	// them off.
	MetricsAddr string
	// HealthAddr is where /healthz and /readyz are served; "0" turns them
	// off.
	HealthAddr string
	// Concurrent bounds the Routes reconciled at once.
	Concurrent int
	// Interval is how often a Ready Route is reconciled again, correcting
	// drift; 0 never.
	Interval time.Duration
	// DrainDelay is how long routing that takes traffic from an object
	// must have been live before the object is released: the time data
	// planes may take to apply what they accepted. 0 releases at once.
	DrainDelay time.Duration
	// GitDir holds the clones of Git sinks. Default: a folder under the
	// system's temporary folder.
	GitDir string
	// LeaderElection configures leader election (Flux's flags): with it,
	// only one replica reconciles.
	LeaderElection leaderelection.Options
	// LeaderElectionNamespace holds the Lease. Default: the controller's
	// namespace when it runs in a pod.
	LeaderElectionNamespace string
	// RateLimiter spaces the retries of failing Routes.
	RateLimiter fluxcontroller.RateLimiterOptions
	// AnalysisImage runs the experiments of rollouts' steps. Default: the
	// run image of this build (runner.DefaultImage()).
	AnalysisImage string
	// Logger logs; default: controller-runtime's global logger.
	Logger logr.Logger
}

// DefaultOptions returns the options Run uses by default, the same as the
// defaults of `kubectl iter8-route controller`'s flags.
func DefaultOptions() Options {
	return Options{
		MetricsAddr: ":8080",
		HealthAddr:  ":9440",
		Concurrent:  4,
		Interval:    10 * time.Minute,
		DrainDelay:  5 * time.Second,
		LeaderElection: leaderelection.Options{
			ReleaseOnCancel: true, LeaseDuration: 35 * time.Second, RenewDeadline: 30 * time.Second, RetryPeriod: 5 * time.Second,
		},
		RateLimiter: fluxcontroller.RateLimiterOptions{MinRetryDelay: 750 * time.Millisecond, MaxRetryDelay: 15 * time.Minute},
	}
}

// Validate reports every option that is out of range.
func (o *Options) Validate() error {
	var errs []error
	if o.Concurrent < 1 {
		errs = append(errs, fmt.Errorf("concurrency must be at least 1, not %d", o.Concurrent))
	}
	if o.Interval < 0 {
		errs = append(errs, fmt.Errorf("interval must not be negative, not %s", o.Interval))
	}
	if o.DrainDelay < 0 {
		errs = append(errs, fmt.Errorf("the drain delay must not be negative, not %s", o.DrainDelay))
	}
	if o.RateLimiter.MinRetryDelay <= 0 || o.RateLimiter.MaxRetryDelay < o.RateLimiter.MinRetryDelay {
		errs = append(errs, fmt.Errorf("retry delays must satisfy 0 < min (%s) <= max (%s)", o.RateLimiter.MinRetryDelay, o.RateLimiter.MaxRetryDelay))
	}
	if o.LeaderElection.Enable && o.LeaderElection.RenewDeadline >= o.LeaderElection.LeaseDuration {
		errs = append(errs, fmt.Errorf("the leader election renew deadline (%s) must be shorter than the lease duration (%s)", o.LeaderElection.RenewDeadline, o.LeaderElection.LeaseDuration))
	}
	return errors.Join(errs...)
}

// Scheme returns the scheme of the controller: the built-in types and the
// Route.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// NewManager builds a controller-runtime manager running the Route
// controller with the given options; Start it to run. Several managers may
// run in one process (tests do): controller names are not checked for
// uniqueness, and the Prometheus collectors are registered once.
func NewManager(ctx context.Context, cfg *rest.Config, opts Options) (ctrl.Manager, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log.GetSink() == nil {
		log = ctrl.Log
	}
	log = log.WithName(ControllerName)
	cacheOpts := cache.Options{DefaultTransform: trimForCache}
	if len(opts.Namespaces) > 0 {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range opts.Namespaces {
			cacheOpts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	le := opts.LeaderElection
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Logger:                        log,
		Cache:                         cacheOpts,
		Client:                        client.Options{Cache: &client.CacheOptions{Unstructured: true}},
		Metrics:                       metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress:        opts.HealthAddr,
		LeaderElection:                le.Enable,
		LeaderElectionID:              LeaderElectionID,
		LeaderElectionNamespace:       opts.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: le.ReleaseOnCancel,
		LeaseDuration:                 &le.LeaseDuration,
		RenewDeadline:                 &le.RenewDeadline,
		RetryPeriod:                   &le.RetryPeriod,
		Controller:                    config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the controller manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	recorder, err := events.NewRecorder(log, "", ControllerName, events.WithManager(mgr))
	if err != nil {
		return nil, fmt.Errorf("creating the event recorder: %w", err)
	}
	gitDir := opts.GitDir
	if gitDir == "" {
		gitDir = filepath.Join(os.TempDir(), "iter8-route-controller-git")
	}
	kube, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return nil, err
	}
	r := &RouteReconciler{
		Kube:          kube,
		AnalysisImage: opts.AnalysisImage,
		Client:        mgr.GetClient(),
		APIReader:     mgr.GetAPIReader(),
		EventRecorder: recorder,
		Metrics:       fluxcontroller.NewMetrics(mgr, metricsRecorder(), Finalizer),
		Interval:      opts.Interval,
		DrainDelay:    opts.DrainDelay,
		Git:           NewGitWriter(gitDir),
	}
	if err := r.SetupWithManager(ctx, mgr, SetupOptions{MaxConcurrentReconciles: opts.Concurrent, RateLimiter: opts.RateLimiter}); err != nil {
		return nil, err
	}
	return mgr, nil
}

// trimForCache drops from cached objects what the controller never reads
// and what takes most of their memory: managed fields, the annotation of
// client-side apply, and a Deployment's pod template (its readiness is in
// metadata and status).
func trimForCache(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
		if a := m.GetAnnotations(); a[corev1.LastAppliedConfigAnnotation] != "" {
			delete(a, corev1.LastAppliedConfigAnnotation)
			m.SetAnnotations(a)
		}
	}
	if u, ok := obj.(*unstructured.Unstructured); ok && u.GroupVersionKind().GroupKind() == readiness.DeploymentGK {
		unstructured.RemoveNestedField(u.Object, "spec", "template")
	}
	return obj, nil
}

// Run runs the Route controller until ctx is done.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	mgr, err := NewManager(ctx, cfg, opts)
	if err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// The Prometheus collectors live in controller-runtime's registry, which is
// global: they are created and registered once per process.
var (
	metricsRecorder = sync.OnceValue(func() *metrics.Recorder {
		rec := metrics.NewRecorder()
		ctrlmetrics.Registry.MustRegister(rec.Collectors()...)
		return rec
	})
	rolloutGauge = sync.OnceValue(func() *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "iter8_route_rollout_step",
			Help: "The step (from 1; 0 before the first) a Route's rollout is at, labelled with its candidate and phase.",
		}, []string{"namespace", "route", "candidate", "phase"})
		ctrlmetrics.Registry.MustRegister(g)
		return g
	})
	trafficGauge = sync.OnceValue(func() *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "iter8_route_version_weight",
			Help: "The percentage of the requests no match takes that a version of a Route is given, as last rendered.",
		}, []string{"namespace", "route", "version"})
		ctrlmetrics.Registry.MustRegister(g)
		return g
	})
)

// recordTraffic sets the weight gauge of each version of the Route.
func recordTraffic(route *v1alpha1.Route) {
	forgetTraffic(route)
	for _, v := range route.Status.Versions {
		trafficGauge().WithLabelValues(route.Namespace, route.Name, v.Name).Set(float64(v.Weight))
	}
}

// forgetTraffic removes the Route's weight and rollout gauges.
func forgetTraffic(route *v1alpha1.Route) {
	trafficGauge().DeletePartialMatch(prometheus.Labels{"namespace": route.Namespace, "route": route.Name})
	rolloutGauge().DeletePartialMatch(prometheus.Labels{"namespace": route.Namespace, "route": route.Name})
}

// recordRollout sets the rollout gauge of the Route: one series, for its
// candidate and phase.
func recordRollout(route *v1alpha1.Route) {
	rolloutGauge().DeletePartialMatch(prometheus.Labels{"namespace": route.Namespace, "route": route.Name})
	if st := route.Status.Rollout; st != nil {
		rolloutGauge().WithLabelValues(route.Namespace, route.Name, st.Candidate, string(st.Phase)).Set(float64(st.Step))
	}
}
