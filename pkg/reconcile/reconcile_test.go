package reconcile_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	ctrlreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/iter8-tools/iter8/pkg/reconcile"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// TestApplySinkFollowsReadiness: traffic reaches a candidate only while its
// Deployment is Available, the routing is applied server-side and owned by
// the Route, and only the candidate's objects get the finalizer.
func TestApplySinkFollowsReadiness(t *testing.T) {
	c, ns := setup(t)
	ctx := t.Context()
	versionObjects(t, c, ns, true, false)
	startController(t, ns, nil)
	if err := c.Create(ctx, blueGreen(ns, 50, 50)); err != nil {
		t.Fatal(err)
	}

	notReady := fmt.Sprintf("Deployment %s/checkout-v2: condition Available is False (MinimumReplicas)", ns)
	eventually(t, "v2 not ready: all traffic to v1", func() (bool, string) {
		r := getRoute(t, c, ns, "checkout")
		ok, msg := ready(r)
		return ok && cmp.Equal(weights(t, c, ns, "checkout"), map[string]int64{"v1": 100, "v2": 0}), msg
	})
	r := getRoute(t, c, ns, "checkout")
	want := []v1alpha1.VersionStatus{{Name: "v1", Ready: true, Weight: 100}, {Name: "v2", Weight: 0, Reason: notReady}}
	if diff := cmp.Diff(want, r.Status.Versions); diff != "" {
		t.Errorf("status.versions (-want +got):\n%s", diff)
	}
	if r.Status.LastAppliedRevision != r.Status.LastRenderedRevision || len(r.Status.LastAppliedRevision) != len("sha256:")+64 {
		t.Errorf("revisions: rendered %q, applied %q", r.Status.LastRenderedRevision, r.Status.LastAppliedRevision)
	}
	if !controllerutil.ContainsFinalizer(r, reconcile.Finalizer) {
		t.Errorf("the Route lacks the finalizer: %v", r.Finalizers)
	}

	vs := &unstructured.Unstructured{}
	vs.SetAPIVersion("networking.istio.io/v1")
	vs.SetKind("VirtualService")
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, vs); err != nil {
		t.Fatal(err)
	}
	if !metav1.IsControlledBy(vs, r) {
		t.Errorf("the VirtualService is not controlled by the Route: %v", vs.GetOwnerReferences())
	}
	if m := vs.GetManagedFields(); len(m) != 1 || m[0].Manager != reconcile.FieldManager || m[0].Operation != metav1.ManagedFieldsOperationApply {
		t.Errorf("managed fields: %+v", m)
	}

	// Only the candidate's objects are held.
	for _, o := range []client.Object{&appsv1.Deployment{}, &corev1.Service{}} {
		for _, v := range []string{"v1", "v2"} {
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout-" + v}, o); err != nil {
				t.Fatal(err)
			}
			if got := controllerutil.ContainsFinalizer(o, reconcile.VersionFinalizer(ns, "checkout")); got != (v == "v2") {
				t.Errorf("%T checkout-%s: finalizer %v", o, v, got)
			}
		}
	}

	eventually(t, "an event records the routing", func() (bool, string) {
		var events corev1.EventList
		if err := c.List(ctx, &events, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == "checkout" && e.Reason == meta.SucceededReason && e.Type == corev1.EventTypeNormal &&
				strings.HasSuffix(e.Message, ": v1 100%, v2 0% (not ready)") {
				return true, ""
			}
		}
		return false, fmt.Sprint(len(events.Items), " events")
	})

	setAvailable(t, ns, "checkout-v2", true)
	eventually(t, "v2 ready: traffic split by weight", func() (bool, string) {
		w := weights(t, c, ns, "checkout")
		return cmp.Equal(w, map[string]int64{"v1": 50, "v2": 50}), fmt.Sprint(w)
	})
	setAvailable(t, ns, "checkout-v2", false)
	eventually(t, "v2 unavailable: its traffic goes back to v1", func() (bool, string) {
		w := weights(t, c, ns, "checkout")
		return cmp.Equal(w, map[string]int64{"v1": 100, "v2": 0}), fmt.Sprint(w)
	})
}

// TestDeletedVersionIsHeldUntilRoutedAway: a candidate's deleted
// Deployment stays, held by the finalizer, for as long as the routing that
// sends it traffic cannot be replaced (here an admission policy refuses the
// controller's apply); once the routing excludes it, it is gone.
func TestDeletedVersionIsHeldUntilRoutedAway(t *testing.T) {
	c, ns := setup(t)
	ctx := t.Context()
	versionObjects(t, c, ns, true, true)
	startController(t, ns, nil)
	if err := c.Create(ctx, blueGreen(ns, 50, 50)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both versions routed", func() (bool, string) {
		w := weights(t, c, ns, "checkout")
		return cmp.Equal(w, map[string]int64{"v1": 50, "v2": 50}), fmt.Sprint(w)
	})

	unblock := blockVirtualService(t, c, ns, "checkout")
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "checkout-v2"}}
	if err := c.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the controller tries to route away and is refused", func() (bool, string) {
		r := getRoute(t, c, ns, "checkout")
		cond := apimeta.FindStatusCondition(r.Status.Conditions, meta.ReadyCondition)
		return cond != nil && cond.Status == metav1.ConditionFalse && cond.Reason == reconcile.ReasonApplyFailed, fmt.Sprint(cond)
	})
	if err := c.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil {
		t.Fatalf("the Deployment went while traffic still goes to it: %v", err)
	}
	if d.DeletionTimestamp == nil || !controllerutil.ContainsFinalizer(d, reconcile.VersionFinalizer(ns, "checkout")) {
		t.Errorf("deletionTimestamp %v, finalizers %v", d.DeletionTimestamp, d.Finalizers)
	}
	if w := weights(t, c, ns, "checkout"); !cmp.Equal(w, map[string]int64{"v1": 50, "v2": 50}) {
		t.Errorf("weights changed while refused: %v", w)
	}

	unblock()
	eventually(t, "routed away, then the Deployment is gone", func() (bool, string) {
		err := c.Get(ctx, client.ObjectKeyFromObject(d), &appsv1.Deployment{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	if w := weights(t, c, ns, "checkout"); !cmp.Equal(w, map[string]int64{"v1": 100, "v2": 0}) {
		t.Errorf("weights after the deletion: %v", w)
	}
	eventually(t, "Ready again", func() (bool, string) { return ready(getRoute(t, c, ns, "checkout")) })
	// The Deployment's removal reaches status.guarded on the reconcile that
	// follows its deletion event, which may come after Ready.
	wantGuarded := []v1alpha1.ResourceReference{{APIVersion: "v1", Kind: "Service", Namespace: ns, Name: "checkout-v2"}}
	eventually(t, "status.guarded lists only what still exists", func() (bool, string) {
		diff := cmp.Diff(wantGuarded, getRoute(t, c, ns, "checkout").Status.Guarded)
		return diff == "", "(-want +got):\n" + diff
	})
}

// TestSharedVersionIsHeldForEveryRoute: two Routes route to one
// candidate, each holding it with a finalizer of its own. Deleted, the
// candidate stays for as long as either still routes to it (here the
// second Route's routing is refused by an admission policy), though the
// first has routed away and released it; it goes only once both routed
// away, and the drain delay after the last routing went live.
func TestSharedVersionIsHeldForEveryRoute(t *testing.T) {
	c, ns := setup(t)
	ctx := t.Context()
	versionObjects(t, c, ns, true, true)
	const drain = time.Second
	startController(t, ns, func(o *reconcile.Options) { o.DrainDelay = drain })
	a, b := blueGreen(ns, 50, 50), blueGreen(ns, 50, 50)
	b.Name = "checkout-b"
	for _, r := range []*v1alpha1.Route{a, b} {
		if err := c.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		eventually(t, "Route "+r.Name+" routes both versions", func() (bool, string) {
			w := weights(t, c, ns, r.Name)
			return cmp.Equal(w, map[string]int64{"v1": 50, "v2": 50}), fmt.Sprint(w)
		})
	}
	fa, fb := reconcile.VersionFinalizer(ns, a.Name), reconcile.VersionFinalizer(ns, b.Name)
	d := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout-v2"}, d); err != nil {
		t.Fatal(err)
	}
	if !controllerutil.ContainsFinalizer(d, fa) || !controllerutil.ContainsFinalizer(d, fb) {
		t.Fatalf("checkout-v2 must hold %s and %s: %v", fa, fb, d.Finalizers)
	}

	unblock := blockVirtualService(t, c, ns, b.Name)
	if err := c.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Route checkout routes away and releases checkout-v2", func() (bool, string) {
		w := weights(t, c, ns, a.Name)
		if err := c.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil {
			return false, err.Error()
		}
		return cmp.Equal(w, map[string]int64{"v1": 100, "v2": 0}) && !controllerutil.ContainsFinalizer(d, fa), fmt.Sprintf("weights %v, finalizers %v", w, d.Finalizers)
	})
	eventually(t, "Route checkout-b is refused", func() (bool, string) {
		cond := apimeta.FindStatusCondition(getRoute(t, c, ns, b.Name).Status.Conditions, meta.ReadyCondition)
		return cond != nil && cond.Reason == reconcile.ReasonApplyFailed, fmt.Sprint(cond)
	})
	if err := c.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil || !controllerutil.ContainsFinalizer(d, fb) {
		t.Fatalf("checkout-v2 went, or lost the finalizer of Route checkout-b, while that Route still routes to it: %v, %v", err, d.Finalizers)
	}
	if w := weights(t, c, ns, b.Name); !cmp.Equal(w, map[string]int64{"v1": 50, "v2": 50}) {
		t.Errorf("checkout-b's weights while refused: %v", w)
	}

	unblock()
	eventually(t, "routed away by both, then checkout-v2 is gone", func() (bool, string) {
		err := c.Get(ctx, client.ObjectKeyFromObject(d), &appsv1.Deployment{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	gone := time.Now()
	rb := getRoute(t, c, ns, b.Name)
	if w := weights(t, c, ns, b.Name); !cmp.Equal(w, map[string]int64{"v1": 100, "v2": 0}) {
		t.Errorf("checkout-b's weights once checkout-v2 went: %v", w)
	}
	if rb.Status.LastAppliedTime == nil || gone.Sub(rb.Status.LastAppliedTime.Time) < drain {
		t.Errorf("checkout-v2 went at %s, less than the drain delay %s after checkout-b's routing went live at %v", gone.Format(time.RFC3339Nano), drain, rb.Status.LastAppliedTime)
	}
}

// blockVirtualService makes the API server refuse every change of the
// VirtualService name in ns, with a ValidatingAdmissionPolicy; the
// returned function lifts it.
func blockVirtualService(t *testing.T, c client.Client, ns, name string) func() {
	t.Helper()
	ctx := t.Context()
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "block-" + ns},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{"networking.istio.io"}, APIVersions: []string{"*"}, Resources: []string{"virtualservices"}},
				},
			}}},
			Validations: []admissionv1.Validation{{Expression: fmt.Sprintf("object.metadata.name != %q", name), Message: "blocked by the test"}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "block-" + ns},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			MatchResources: &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: ns},
			}},
		},
	}
	for _, o := range []client.Object{policy, binding} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	// The API server loads policies asynchronously: wait until it refuses.
	eventually(t, "the policy refuses changes", func() (bool, string) {
		vs := &unstructured.Unstructured{}
		vs.SetAPIVersion("networking.istio.io/v1")
		vs.SetKind("VirtualService")
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, vs); err != nil {
			return false, err.Error()
		}
		vs.SetLabels(map[string]string{"probe": "1"})
		err := c.Update(ctx, vs, client.DryRunAll)
		return apierrors.IsInvalid(err) || apierrors.IsForbidden(err), fmt.Sprint(err)
	})
	unblocked := false
	unblock := func() {
		if unblocked {
			return
		}
		unblocked = true
		for _, o := range []client.Object{binding, policy} {
			if err := c.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
				t.Error(err)
			}
		}
	}
	t.Cleanup(unblock)
	return unblock
}

// TestPrunesAndCleansUp: a change of provider replaces the
// VirtualService with an HTTPRoute (the VirtualService is pruned);
// deleting the Route deletes the HTTPRoute and releases the versions'
// objects.
func TestPrunesAndCleansUp(t *testing.T) {
	c, ns := setup(t)
	ctx := t.Context()
	versionObjects(t, c, ns, true, true)
	startController(t, ns, nil)
	if err := c.Create(ctx, blueGreen(ns, 50, 50)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "VirtualService applied", func() (bool, string) {
		return weights(t, c, ns, "checkout") != nil, "no VirtualService"
	})

	updateRoute(t, c, ns, "checkout", func(r *v1alpha1.Route) { r.Spec.Provider = v1alpha1.ProviderGatewayAPI })
	httpRoute := &unstructured.Unstructured{}
	httpRoute.SetAPIVersion("gateway.networking.k8s.io/v1")
	httpRoute.SetKind("HTTPRoute")
	eventually(t, "HTTPRoute applied, VirtualService pruned", func() (bool, string) {
		r := getRoute(t, c, ns, "checkout")
		ok, msg := ready(r)
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, httpRoute)
		return ok && err == nil && weights(t, c, ns, "checkout") == nil, fmt.Sprintf("%s; HTTPRoute: %v", msg, err)
	})
	want := []v1alpha1.ResourceReference{{APIVersion: "gateway.networking.k8s.io/v1", Kind: "HTTPRoute", Name: "checkout"}}
	if diff := cmp.Diff(want, getRoute(t, c, ns, "checkout").Status.Inventory); diff != "" {
		t.Errorf("status.inventory (-want +got):\n%s", diff)
	}

	if err := c.Delete(ctx, getRoute(t, c, ns, "checkout")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Route and HTTPRoute gone", func() (bool, string) {
		errR := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, &v1alpha1.Route{})
		errH := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, httpRoute.DeepCopy())
		return apierrors.IsNotFound(errR) && apierrors.IsNotFound(errH), fmt.Sprintf("Route: %v, HTTPRoute: %v", errR, errH)
	})
	for _, o := range []client.Object{&appsv1.Deployment{}, &corev1.Service{}} {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout-v2"}, o); err != nil {
			t.Fatal(err)
		}
		if controllerutil.ContainsFinalizer(o, reconcile.VersionFinalizer(ns, "checkout")) {
			t.Errorf("%T checkout-v2 still holds the finalizer", o)
		}
	}
}

// TestPrunesWhatTheAPIServerLists: the objects pruned are those the
// Route's status lists on the API server, not in a cache that lags behind
// it. Here the cache holds the new provider but the status from before the
// VirtualService was applied (as when the provider changes right after the
// first apply, before the status patch that lists it reaches the cache);
// the VirtualService is pruned all the same.
func TestPrunesWhatTheAPIServerLists(t *testing.T) {
	c, ns := setup(t)
	ctx := t.Context()
	versionObjects(t, c, ns, true, true)
	if err := c.Create(ctx, blueGreen(ns, 50, 50)); err != nil {
		t.Fatal(err)
	}
	cache := &laggingStatus{Client: c}
	r := reconcile.NewForTest(cache, c, corev1.SchemeGroupVersion.WithKind("Service"), appsv1.SchemeGroupVersion.WithKind("Deployment"), schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"})
	req := ctrlreconcile.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: "checkout"}}
	before := getRoute(t, c, ns, "checkout").Status
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if w := weights(t, c, ns, "checkout"); w == nil {
		t.Fatal("no VirtualService")
	}

	updateRoute(t, c, ns, "checkout", func(r *v1alpha1.Route) { r.Spec.Provider = v1alpha1.ProviderGatewayAPI })
	cache.status = &before
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	httpRoute := &unstructured.Unstructured{}
	httpRoute.SetAPIVersion("gateway.networking.k8s.io/v1")
	httpRoute.SetKind("HTTPRoute")
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, httpRoute); err != nil {
		t.Errorf("HTTPRoute: %v", err)
	}
	if w := weights(t, c, ns, "checkout"); w != nil {
		t.Errorf("the VirtualService was not pruned: %v", w)
	}
	rt := getRoute(t, c, ns, "checkout")
	if ok, msg := ready(rt); !ok {
		t.Errorf("not Ready: %s", msg)
	}
	want := []v1alpha1.ResourceReference{{APIVersion: "gateway.networking.k8s.io/v1", Kind: "HTTPRoute", Name: "checkout"}}
	if diff := cmp.Diff(want, rt.Status.Inventory); diff != "" {
		t.Errorf("status.inventory (-want +got):\n%s", diff)
	}
}

// laggingStatus reads like a cache that lags behind the API server: once
// status is set, Routes are read with it in place of their status.
type laggingStatus struct {
	client.Client
	status *v1alpha1.RouteStatus
}

func (l *laggingStatus) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := l.Client.Get(ctx, key, obj, opts...); err != nil {
		return err
	}
	if r, ok := obj.(*v1alpha1.Route); ok && l.status != nil {
		r.Status = *l.status.DeepCopy()
	}
	return nil
}

// TestStalledUntilTheSpecChanges: a Route the API server accepts but that
// cannot be reconciled (a readiness apiVersion that is no group/version)
// is Stalled for its generation; fixing it makes it Ready.
func TestStalledUntilTheSpecChanges(t *testing.T) {
	c, ns := setup(t)
	ctx := t.Context()
	versionObjects(t, c, ns, true, true)
	startController(t, ns, nil)
	r := blueGreen(ns, 50, 50)
	r.Spec.Versions[1].Readiness[0].APIVersion = "apps/v1/extra"
	if err := c.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Stalled", func() (bool, string) {
		r := getRoute(t, c, ns, "checkout")
		s := apimeta.FindStatusCondition(r.Status.Conditions, meta.StalledCondition)
		rd := apimeta.FindStatusCondition(r.Status.Conditions, meta.ReadyCondition)
		ok := s != nil && s.Status == metav1.ConditionTrue && s.Reason == reconcile.ReasonInvalidRoute &&
			rd != nil && rd.Status == metav1.ConditionFalse && r.Status.ObservedGeneration == r.Generation &&
			apimeta.FindStatusCondition(r.Status.Conditions, meta.ReconcilingCondition) == nil
		return ok, fmt.Sprint(r.Status.Conditions)
	})
	if w := weights(t, c, ns, "checkout"); w != nil {
		t.Errorf("a stalled Route was rendered: %v", w)
	}

	updateRoute(t, c, ns, "checkout", func(r *v1alpha1.Route) { r.Spec.Versions[1].Readiness[0].APIVersion = "apps/v1" })
	eventually(t, "Ready once fixed", func() (bool, string) {
		r := getRoute(t, c, ns, "checkout")
		ok, msg := ready(r)
		return ok && !slices.ContainsFunc(r.Status.Conditions, func(c metav1.Condition) bool { return c.Type == meta.StalledCondition }), msg
	})
}

// TestOnlyTheLeaderWrites runs two replicas with leader election: one
// writes, the other writes nothing until the leader stops, then takes over.
func TestOnlyTheLeaderWrites(t *testing.T) {
	c, ns := setup(t)
	ctx := t.Context()
	versionObjects(t, c, ns, true, true)
	elect := func(o *reconcile.Options) {
		o.LeaderElection.Enable = true
		o.LeaderElectionNamespace = ns
		o.LeaderElection.LeaseDuration, o.LeaderElection.RenewDeadline, o.LeaderElection.RetryPeriod = 4e9, 3e9, 2e8
	}
	replicas := []*controller{startController(t, ns, elect), startController(t, ns, elect)}
	if err := c.Create(ctx, blueGreen(ns, 50, 50)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "routed", func() (bool, string) {
		ok, msg := ready(getRoute(t, c, ns, "checkout"))
		return ok && cmp.Equal(weights(t, c, ns, "checkout"), map[string]int64{"v1": 50, "v2": 50}), msg
	})
	var leader, follower *controller
	switch a, b := replicas[0].writes.n.Load(), replicas[1].writes.n.Load(); {
	case a > 0 && b == 0:
		leader, follower = replicas[0], replicas[1]
	case b > 0 && a == 0:
		leader, follower = replicas[1], replicas[0]
	default:
		t.Fatalf("writes by the replicas: %d and %d; want one of them only", a, b)
	}

	leader.stop()
	updateRoute(t, c, ns, "checkout", func(r *v1alpha1.Route) {
		r.Spec.Versions[0].Weight, r.Spec.Versions[1].Weight = ptr.To[int32](90), ptr.To[int32](10)
	})
	eventually(t, "the other replica took over", func() (bool, string) {
		w := weights(t, c, ns, "checkout")
		return cmp.Equal(w, map[string]int64{"v1": 90, "v2": 10}), fmt.Sprint(w)
	})
	if follower.writes.n.Load() == 0 {
		t.Error("the new leader wrote nothing")
	}
}

// TestInferenceServiceReadiness: with kserve-modelmesh, a version is ready
// when its InferenceService is Ready (ModelMesh sets it once the
// predictor's model is Loaded).
func TestInferenceServiceReadiness(t *testing.T) {
	c, ns := setup(t)
	ctx := t.Context()
	if _, err := env.InstallCRDs(ctx, "testdata/inferenceservice-crd.yaml"); err != nil {
		t.Fatal(err)
	}
	c = newClient(t, env.Config) // one that knows the new kind
	isvc := func(name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("serving.kserve.io/v1beta1")
		u.SetKind("InferenceService")
		u.SetNamespace(ns)
		u.SetName(name)
		return u
	}
	setLoaded := func(name string, loaded bool) {
		t.Helper()
		u := isvc(name)
		if err := c.Get(ctx, client.ObjectKeyFromObject(u), u); err != nil {
			t.Fatal(err)
		}
		status, state := "False", "Loading"
		if loaded {
			status, state = "True", "Loaded"
		}
		u.Object["status"] = map[string]any{
			"observedGeneration": u.GetGeneration(),
			"conditions":         []any{map[string]any{"type": "Ready", "status": status, "reason": state}},
			"modelStatus":        map[string]any{"states": map[string]any{"activeModelState": state}},
		}
		if err := c.Status().Update(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"wisdom-1", "wisdom-2"} {
		u := isvc(name)
		u.Object["spec"] = map[string]any{"predictor": map[string]any{"model": map[string]any{"modelFormat": map[string]any{"name": "onnx"}}}}
		if err := c.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	setLoaded("wisdom-1", true)
	startController(t, ns, nil)
	r := &v1alpha1.Route{
		ObjectMeta: metav1.ObjectMeta{Name: "wisdom", Namespace: ns},
		Spec: v1alpha1.RouteSpec{Provider: v1alpha1.ProviderKServeModelMesh, Strategy: v1alpha1.StrategyBlueGreen, Protocol: v1alpha1.ProtocolGRPC,
			Versions: []v1alpha1.Version{
				{Name: "v1", InferenceService: &v1alpha1.InferenceServiceBackend{Name: "wisdom-1"}, Weight: ptr.To[int32](70)},
				{Name: "v2", InferenceService: &v1alpha1.InferenceServiceBackend{Name: "wisdom-2"}, Weight: ptr.To[int32](30)},
			}},
	}
	if err := c.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	// Without status (kstatus would call it Current), and then loading.
	for _, want := range []string{"condition Ready is not set", "condition Ready is False (Loading)"} {
		want = fmt.Sprintf("InferenceService %s/wisdom-2: %s", ns, want)
		eventually(t, "v2 not ready: no traffic", func() (bool, string) {
			r := getRoute(t, c, ns, "wisdom")
			ok, msg := ready(r)
			w := weights(t, c, ns, "wisdom")
			return ok && cmp.Equal(w, map[string]int64{"v1": 100, "v2": 0}) && r.Status.Versions[1].Reason == want, fmt.Sprint(msg, w, r.Status.Versions)
		})
		if strings.HasSuffix(want, "is not set") {
			setLoaded("wisdom-2", false)
		}
	}
	setLoaded("wisdom-2", true)
	eventually(t, "v2's model is loaded: its weight", func() (bool, string) {
		w := weights(t, c, ns, "wisdom")
		return cmp.Equal(w, map[string]int64{"v1": 70, "v2": 30}), fmt.Sprint(w)
	})
}
