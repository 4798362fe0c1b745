package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	fluxcontroller "github.com/fluxcd/pkg/runtime/controller"
	"github.com/fluxcd/pkg/runtime/events"
	"github.com/fluxcd/pkg/runtime/patch"
	"github.com/fluxcd/pkg/runtime/predicates"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kmeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/iter8-tools/iter8/pkg/render"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// Names the controller uses in the cluster.
const (
	// ControllerName names the controller in events, logs and metrics,
	// and its objects: ServiceAccount, roles, bindings and Deployment.
	ControllerName = "iter8-route-controller"
	// FieldManager is the server-side apply field manager of every object
	// the controller applies or patches.
	FieldManager = "iter8-route-controller"
	// Finalizer is put on every Route, so that the controller releases
	// what the Route holds before it goes.
	Finalizer = "iter8.tools/finalizer"
	// VersionFinalizerPrefix starts the finalizer each Route puts on the
	// objects of its non-primary versions until traffic has left them:
	// see VersionFinalizer.
	VersionFinalizerPrefix = "route.iter8.tools/"
)

// VersionFinalizer is the finalizer the Route namespace/name puts on the
// objects of its versions: route.iter8.tools/NAMESPACE.NAME, its last part
// shortened to 63 characters with a hash of the whole where longer. Each
// Route has its own, so an object two Routes route to (an HTTP and a gRPC
// Route, or a canary and an A/B/n Route, on one Deployment) goes only once
// neither routes to it any more.
func VersionFinalizer(namespace, name string) string {
	id := namespace + "." + name
	if len(id) > 63 {
		sum := sha256.Sum256([]byte(id))
		id = strings.TrimRight(id[:52], "-.") + "-" + hex.EncodeToString(sum[:5])
	}
	return VersionFinalizerPrefix + id
}

// Condition reasons, beside Flux's meta.SucceededReason and
// meta.ProgressingReason.
const (
	// ReasonInvalidRoute: the Route cannot be rendered (Stalled).
	ReasonInvalidRoute = "InvalidRoute"
	// ReasonApplyFailed: server-side apply or pruning failed.
	ReasonApplyFailed = "ApplyFailed"
	// ReasonGitOperationFailed: a clone, fetch, commit or push failed.
	ReasonGitOperationFailed = "GitOperationFailed"
	// ReasonCredentialsNotFound: the Secret of sink.git.secretRef is
	// missing, or its keys do not hold what the URL needs.
	ReasonCredentialsNotFound = "CredentialsNotFound"
	// ReasonWaitingForKustomization: the commit is pushed; the Flux
	// Kustomization has not applied it yet.
	ReasonWaitingForKustomization = "WaitingForKustomization"
	// ReasonWaitingForDataPlane: the routing is written; a data plane
	// that reports on it (a Gateway's controller, in the route's
	// status.parents) has not accepted its generation yet.
	ReasonWaitingForDataPlane = "WaitingForDataPlane"
	// ReasonRoutingRejected: a data plane refused the routing.
	ReasonRoutingRejected = "RoutingRejected"
	// ReasonRoutingNotSupported: a parent Gateway's class does not
	// support what the routing needs; it is not written.
	ReasonRoutingNotSupported = "RoutingNotSupported"
	// ReasonVersionObjectsFailed: reading or patching a version's objects
	// failed.
	ReasonVersionObjectsFailed = "VersionObjectsFailed"
	// ReasonAnalysisFailed: the experiment of a rollout's step cannot be
	// made or read.
	ReasonAnalysisFailed = "AnalysisFailed"
	// ReasonReconciliationFailed: any other failure.
	ReasonReconciliationFailed = "ReconciliationFailed"
)

// ownedConditions are the conditions the controller owns on a Route.
var ownedConditions = []string{meta.ReadyCondition, meta.ReconcilingCondition, meta.StalledCondition}

// RouteReconciler reconciles Routes. Create it with New and register it
// with SetupWithManager.
type RouteReconciler struct {
	client.Client
	// APIReader reads without the cache: the Route being reconciled (see
	// Reconcile), and Secrets, which the controller neither caches nor
	// watches.
	APIReader client.Reader
	// EventRecorder records Kubernetes events on Routes.
	EventRecorder events.Recorder
	// Metrics records the Flux-standard reconcile metrics.
	Metrics fluxcontroller.Metrics
	// Interval is how often a Route that is Ready is reconciled again
	// (drift correction); changes of the Route or of its versions' objects
	// are reconciled as they happen.
	Interval time.Duration
	// DrainDelay is how long routing that takes traffic from an object
	// must have been live before the object is released.
	DrainDelay time.Duration
	// Git writes to the Git sinks; required when a Route has sink git.
	Git *GitWriter
	// Kube makes and reads the experiments of rollouts' steps; required
	// when a Route has a rollout with an analysis.
	Kube kubernetes.Interface
	// AnalysisImage runs the experiments of rollouts' steps; default:
	// runner.DefaultImage().
	AnalysisImage string

	mapper     kmeta.RESTMapper
	controller controller.Controller
	mgr        ctrl.Manager

	mu      sync.Mutex
	watched map[schema.GroupVersionKind]bool
}

// SetupOptions configure SetupWithManager.
type SetupOptions struct {
	// MaxConcurrentReconciles bounds the Routes reconciled at once.
	MaxConcurrentReconciles int
	// RateLimiter spaces the retries of a failing Route; default: Flux's.
	RateLimiter fluxcontroller.RateLimiterOptions
}

// SetupWithManager registers the reconciler: it watches Routes, and, as
// Routes name them, the objects of their versions and Flux Kustomizations.
func (r *RouteReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts SetupOptions) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.Route{}, indexObjects, indexRouteObjects); err != nil {
		return fmt.Errorf("indexing Routes by the objects they name: %w", err)
	}
	r.mgr, r.mapper = mgr, mgr.GetRESTMapper()
	r.watched = map[schema.GroupVersionKind]bool{}
	copts := controller.Options{MaxConcurrentReconciles: opts.MaxConcurrentReconciles, RateLimiter: fluxcontroller.GetDefaultRateLimiter()}
	if opts.RateLimiter.MinRetryDelay > 0 {
		copts.RateLimiter = fluxcontroller.GetRateLimiter(opts.RateLimiter)
	}
	c, err := ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		// Annotations: route.iter8.tools/action acts on a rollout.
		For(&v1alpha1.Route{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, predicates.ReconcileRequestedPredicate{}))).
		WithOptions(copts).
		Build(r)
	if err != nil {
		return err
	}
	r.controller = c
	return nil
}

// Reconcile brings one Route's routing in step with its versions.
func (r *RouteReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	// The Route is read from the API server, not from the cache: its status
	// (status.inventory, what is pruned; status.guarded, what holds the
	// finalizer) must be what the last reconcile wrote, and the cache may
	// not have it yet. A cache holding a new spec with the status from
	// before the last reconcile's final patch would make this reconcile
	// leave the objects that patch listed unpruned, and the SerialPatcher,
	// diffing against that stale status, overwrite the list without them.
	route := &v1alpha1.Route{}
	if err := r.APIReader.Get(ctx, req.NamespacedName, route); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	sp := patch.NewSerialPatcher(route, r.Client)
	var out *outcome
	var ro *rollout
	defer func() {
		result, retErr = r.summarize(ctx, sp, route, out, ro, retErr)
		r.Metrics.RecordDuration(ctx, route, start)
	}()

	if !route.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, route)
	}
	if !controllerutil.ContainsFinalizer(route, Finalizer) {
		// Persisted before anything is written, so that nothing the Route
		// makes can outlive it.
		controllerutil.AddFinalizer(route, Finalizer)
		if err := sp.Patch(ctx, route, patch.WithFieldOwner(FieldManager)); err != nil {
			return ctrl.Result{}, err
		}
	}
	var err error
	ro = newRollout(r, route)
	out, err = r.reconcile(ctx, sp, route, ro)
	return ctrl.Result{}, err
}

// outcome is what a successful reconcile reached.
type outcome struct {
	// sinkResult is what the sink did: whether the routing is live, or
	// what is awaited.
	sinkResult
	// summary describes the traffic.
	summary string
	// newRevision is true when this reconcile wrote a new revision.
	newRevision bool
	// draining is how long until an object held for the drain delay is
	// due to be released; 0 when none is.
	draining time.Duration
}

// reconcile does the work for a Route that is not being deleted.
func (r *RouteReconciler) reconcile(ctx context.Context, sp *patch.SerialPatcher, route *v1alpha1.Route, ro *rollout) (*outcome, error) {
	if route.Generation != route.Status.ObservedGeneration {
		conditions.MarkReconciling(route, meta.ProgressingReason, "reconciling generation %d", route.Generation)
		if err := sp.Patch(ctx, route, patch.WithOwnedConditions{Conditions: ownedConditions}, patch.WithFieldOwner(FieldManager)); err != nil {
			return nil, err
		}
	}
	if errs := route.Validate(); len(errs) > 0 {
		return nil, stalled(ReasonInvalidRoute, "%w", errs.ToAggregate())
	}

	vs, err := r.resolveVersions(ctx, route)
	if err != nil {
		return nil, err
	}
	if err := r.guard(ctx, vs); err != nil {
		return nil, err
	}
	// Rendering is a pure function of the Route: its failures are the
	// spec's (render.ErrInvalid, or what the provider cannot render).
	ready, whys := vs.ready()
	var step *render.Step
	if ro != nil {
		if step, err = ro.progress(ctx, ready); err != nil {
			return nil, err
		}
	}
	rendered, err := render.RenderStep(route, ready, step)
	if err != nil {
		return nil, stalled(ReasonInvalidRoute, "%w", err)
	}
	for i := range rendered.Traffic {
		rendered.Traffic[i].Reason = whys[i]
	}

	if err := r.checkFeatures(ctx, rendered); err != nil {
		return nil, err
	}
	res, err := r.write(ctx, route, rendered)
	if err == nil {
		res, err = r.awaitDataPlane(ctx, rendered, res, route.Namespace)
	}
	if err != nil {
		return nil, err
	}
	if ro != nil {
		ro.settle(res)
	}
	out := &outcome{sinkResult: res, summary: rendered.Summary(), newRevision: res.revision != route.Status.LastRenderedRevision}
	route.Status.Versions = rendered.Traffic
	route.Status.LastRenderedRevision = res.revision
	if res.live {
		if route.Status.LastAppliedRevision != res.revision || route.Status.LastAppliedTime == nil {
			now := metav1.NowMicro()
			route.Status.LastAppliedTime = &now
		}
		route.Status.LastAppliedRevision = res.revision
	}
	recordTraffic(route)

	guarded, draining, err := r.release(ctx, route, vs, rendered, res.live)
	route.Status.Guarded = guarded
	if err != nil {
		return nil, err
	}
	out.draining = draining
	return out, nil
}

// finalize undoes what the controller did for a Route being deleted: the
// objects the apply sink applied are deleted (the routing goes first), the
// versions' objects are released, and the Route's finalizer removed. A Git
// sink's folder is left in Git, which is the user's to change.
func (r *RouteReconciler) finalize(ctx context.Context, route *v1alpha1.Route) error {
	if !controllerutil.ContainsFinalizer(route, Finalizer) {
		return nil
	}
	if route.Spec.SinkType() == v1alpha1.SinkApply {
		if err := r.prune(ctx, route, route.Status.Inventory, nil); err != nil {
			return err
		}
		route.Status.Inventory = nil
	}
	vs, err := namedObjects(route)
	if err != nil {
		// A version names an object badly: release what status lists.
		vs = &versionSet{route: route, refs: map[string]objectRef{}, finalizer: VersionFinalizer(route.Namespace, route.Name)}
	}
	guarded, err := r.releaseAll(ctx, route, vs)
	route.Status.Guarded = guarded
	if err != nil {
		return err
	}
	forgetTraffic(route)
	controllerutil.RemoveFinalizer(route, Finalizer)
	return nil
}

// summarize records the outcome in the Route's conditions, persists the
// status (and finalizers) with the SerialPatcher, emits events and returns
// the result for controller-runtime.
//
// The rollout's records are notified once the status holding them is
// persisted, and its requeue bounds the result's.
func (r *RouteReconciler) summarize(ctx context.Context, sp *patch.SerialPatcher, route *v1alpha1.Route, out *outcome, ro *rollout, err error) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	result := ctrl.Result{}
	var st *StalledError
	switch {
	case !route.DeletionTimestamp.IsZero() && err == nil:
		// Finalized: nothing more to record than the removed finalizer.
	case errors.As(err, &st):
		conditions.MarkStalled(route, st.Reason, "%s", st.Err)
		conditions.MarkFalse(route, meta.ReadyCondition, st.Reason, "%s", st.Err)
		conditions.Delete(route, meta.ReconcilingCondition)
		route.Status.ObservedGeneration = route.Generation
		r.event(route, corev1.EventTypeWarning, st.Reason, st.Err.Error())
		err = reconcile.TerminalError(err)
	case err != nil:
		reason := reasonOf(err)
		conditions.MarkFalse(route, meta.ReadyCondition, reason, "%s", err)
		conditions.MarkReconciling(route, meta.ProgressingWithRetryReason, "%s", err)
		conditions.Delete(route, meta.StalledCondition)
		r.event(route, corev1.EventTypeWarning, reason, err.Error())
	case out != nil && out.live:
		conditions.MarkTrue(route, meta.ReadyCondition, meta.SucceededReason, "routing %s: %s", route.Status.LastAppliedRevision, out.summary)
		conditions.Delete(route, meta.ReconcilingCondition)
		conditions.Delete(route, meta.StalledCondition)
		route.Status.ObservedGeneration = route.Generation
		if out.newRevision {
			r.event(route, corev1.EventTypeNormal, meta.SucceededReason, fmt.Sprintf("routing %s: %s", route.Status.LastAppliedRevision, out.summary))
		}
		if r.Interval > 0 {
			result.RequeueAfter = r.Interval
		}
		if out.draining > 0 && (result.RequeueAfter == 0 || out.draining < result.RequeueAfter) {
			result.RequeueAfter = out.draining
		}
	case out != nil:
		conditions.MarkReconciling(route, meta.ProgressingReason, "%s", out.waitMessage)
		conditions.MarkUnknown(route, meta.ReadyCondition, out.waitReason, "%s", out.waitMessage)
		conditions.Delete(route, meta.StalledCondition)
		if out.newRevision {
			r.event(route, corev1.EventTypeNormal, meta.ProgressingReason, out.waitMessage)
		}
		// The Kustomization is watched; this only bounds the wait if its
		// events are missed.
		result.RequeueAfter = waitRequeue
	}
	perr := sp.Patch(ctx, route, patch.WithOwnedConditions{Conditions: ownedConditions}, patch.WithFieldOwner(FieldManager))
	if perr != nil && !(apierrors.IsNotFound(perr) && !route.DeletionTimestamp.IsZero()) {
		log.Error(perr, "patching the Route's status")
		err = errors.Join(err, perr)
	}
	r.Metrics.RecordReadiness(ctx, route)
	r.Metrics.RecordReconciling(ctx, route)
	r.Metrics.RecordStalled(ctx, route)
	if ro != nil && perr == nil {
		ro.notify(ctx)
		recordRollout(route)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if ro != nil && ro.requeue > 0 && (result.RequeueAfter == 0 || ro.requeue < result.RequeueAfter) {
		result.RequeueAfter = ro.requeue
	}
	return result, nil
}

// waitRequeue bounds the wait for a Flux Kustomization.
const waitRequeue = 30 * time.Second

// event records a Kubernetes event on the Route.
func (r *RouteReconciler) event(route *v1alpha1.Route, typ, reason, msg string) {
	if r.EventRecorder != nil {
		r.EventRecorder.Eventf(route, nil, typ, reason, "Reconcile", "%s", msg)
	}
}
