package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kmeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/iter8-tools/iter8/pkg/readiness"
	"github.com/iter8-tools/iter8/pkg/render"
	routefile "github.com/iter8-tools/iter8/pkg/route"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// The Flux Kustomization's kind.
var kustomizationGVK = schema.GroupVersionKind{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization"}

// objectRef identifies an object.
type objectRef struct {
	gvk       schema.GroupVersionKind
	namespace string
	name      string
}

// key identifies the object whatever the version of its API: the key of
// the Route index.
func (o objectRef) key() string {
	return objectKey(o.gvk.GroupKind(), o.namespace, o.name)
}

func objectKey(gk schema.GroupKind, namespace, name string) string {
	return gk.String() + "/" + namespace + "/" + name
}

func (o objectRef) String() string { return o.gvk.Kind + " " + o.namespace + "/" + o.name }

func (o objectRef) resource() v1alpha1.ResourceReference {
	apiVersion, kind := o.gvk.ToAPIVersionAndKind()
	return v1alpha1.ResourceReference{APIVersion: apiVersion, Kind: kind, Namespace: o.namespace, Name: o.name}
}

func refOf(r v1alpha1.ResourceReference, defaultNamespace string) (objectRef, error) {
	gv, err := schema.ParseGroupVersion(r.APIVersion)
	if err != nil {
		return objectRef{}, err
	}
	ns := r.Namespace
	if ns == "" {
		ns = defaultNamespace
	}
	return objectRef{gvk: gv.WithKind(r.Kind), namespace: ns, name: r.Name}, nil
}

// check is one readiness check of a version: an object and the
// conditions it needs (nil: kstatus).
type check struct {
	ref        objectRef
	conditions []string
}

// versionChecks lists the objects a version names, with their checks: its
// backend, then its readiness objects.
func versionChecks(route *v1alpha1.Route, v *v1alpha1.Version) ([]check, error) {
	checks, err := routefile.VersionChecks(route, v)
	if err != nil {
		return nil, err
	}
	out := make([]check, len(checks))
	for i, c := range checks {
		out[i] = check{ref: objectRef{gvk: c.GVK, namespace: c.Namespace, name: c.Name}, conditions: c.Conditions}
	}
	return out, nil
}

// versionSet is a Route's versions with the objects they name, as read in
// one reconcile.
type versionSet struct {
	route   *v1alpha1.Route
	primary int
	checks  [][]check
	// refs holds every named object by key.
	refs map[string]objectRef
	// objects holds what was read (nil: missing); missing says why.
	objects map[string]*unstructured.Unstructured
	missing map[string]string
	// guarded holds the keys of the objects that need the Route's
	// finalizer: those named by a version other than the primary, and not
	// by the primary.
	guarded sets.Set[string]
	// finalizer is the Route's VersionFinalizer.
	finalizer string
}

// namedObjects lists the objects each version of the Route names, without
// reading them.
func namedObjects(route *v1alpha1.Route) (*versionSet, error) {
	vs := &versionSet{
		route: route, primary: route.Spec.PrimaryIndex(), refs: map[string]objectRef{},
		objects: map[string]*unstructured.Unstructured{}, missing: map[string]string{}, guarded: sets.New[string](),
		finalizer: VersionFinalizer(route.Namespace, route.Name),
	}
	byPrimary := sets.New[string]()
	for i := range route.Spec.Versions {
		cs, err := versionChecks(route, &route.Spec.Versions[i])
		if err != nil {
			return nil, err
		}
		vs.checks = append(vs.checks, cs)
		for _, c := range cs {
			k := c.ref.key()
			vs.refs[k] = c.ref
			if i == vs.primary {
				byPrimary.Insert(k)
			} else {
				vs.guarded.Insert(k)
			}
		}
	}
	vs.guarded = vs.guarded.Difference(byPrimary)
	return vs, nil
}

// resolveVersions reads every object the Route's versions name, starting
// a watch on each new kind.
func (r *RouteReconciler) resolveVersions(ctx context.Context, route *v1alpha1.Route) (*versionSet, error) {
	vs, err := namedObjects(route)
	if err != nil {
		return nil, stalled(ReasonInvalidRoute, "%w", err)
	}
	for k, ref := range vs.refs {
		obj, why, err := r.read(ctx, ref)
		if err != nil {
			return nil, retry(ReasonVersionObjectsFailed, "reading %s: %w", ref, err)
		}
		vs.objects[k], vs.missing[k] = obj, why
	}
	return vs, nil
}

// read gets an object from the cache; nil with the reason when it does not
// exist or its kind is not served.
func (r *RouteReconciler) read(ctx context.Context, ref objectRef) (*unstructured.Unstructured, string, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ref.gvk)
	err := r.ensureWatch(ref.gvk)
	if err == nil {
		err = r.Get(ctx, client.ObjectKey{Namespace: ref.namespace, Name: ref.name}, u)
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, "not found", nil
	case kmeta.IsNoMatchError(err):
		return nil, fmt.Sprintf("kind %s of %s is not served by the API server", ref.gvk.Kind, ref.gvk.GroupVersion()), nil
	case err != nil:
		return nil, "", err
	}
	return u, "", nil
}

// guard puts the Route's finalizer on the existing objects that need it, before
// any traffic can reach them: an object cannot then go away unnoticed.
func (r *RouteReconciler) guard(ctx context.Context, vs *versionSet) error {
	for _, k := range sets.List(vs.guarded) {
		obj := vs.objects[k]
		if obj == nil || obj.GetDeletionTimestamp() != nil || controllerutil.ContainsFinalizer(obj, vs.finalizer) {
			continue
		}
		if err := r.setFinalizer(ctx, obj, vs.finalizer, true); err != nil {
			if apierrors.IsNotFound(err) {
				vs.objects[k], vs.missing[k] = nil, "not found"
				continue
			}
			return retry(ReasonVersionObjectsFailed, "adding finalizer %s to %s: %w", vs.finalizer, vs.refs[k], err)
		}
	}
	return nil
}

// ready returns the versions whose objects all exist, are not being
// deleted, are ready, and hold the finalizer where they need it, and why
// each other version is not, by index ("" for a ready version).
func (vs *versionSet) ready() (sets.Set[string], []string) {
	ready := sets.New[string]()
	whys := make([]string, len(vs.route.Spec.Versions))
	for i, v := range vs.route.Spec.Versions {
		if whys[i] = vs.notReady(i); whys[i] == "" {
			ready.Insert(v.Name)
		}
	}
	return ready, whys
}

// notReady says why version i is not ready; "" when it is.
func (vs *versionSet) notReady(i int) string {
	var whys []string
	for _, c := range vs.checks[i] {
		k := c.ref.key()
		obj := vs.objects[k]
		if obj == nil {
			whys = append(whys, fmt.Sprintf("%s: %s", c.ref, vs.missing[k]))
			continue
		}
		if st := readiness.Of(obj, c.conditions); !st.Ready {
			whys = append(whys, fmt.Sprintf("%s: %s", c.ref, st.Reason))
			continue
		}
		if vs.guarded.Has(k) && !controllerutil.ContainsFinalizer(obj, vs.finalizer) {
			whys = append(whys, fmt.Sprintf("%s: waiting for finalizer %s", c.ref, vs.finalizer))
		}
	}
	return strings.Join(whys, "; ")
}

// trafficTo reports whether a version other than the primary that names
// the object gets traffic.
func (vs *versionSet) trafficTo(key string, traffic []v1alpha1.VersionStatus) bool {
	for i := range vs.checks {
		if i == vs.primary || !slices.ContainsFunc(vs.checks[i], func(c check) bool { return c.ref.key() == key }) {
			continue
		}
		t := traffic[i]
		if t.Weight > 0 || t.Matched || t.MirrorPercent > 0 {
			return true
		}
	}
	return false
}

// release removes the Route's finalizer from the objects that no longer
// need it: those being deleted, or no longer named by a non-primary
// version, once the routing that gives their versions no traffic has been
// live for the drain delay. It returns the objects that still hold it, and
// how long until those held only for the drain delay are due (0: none is).
func (r *RouteReconciler) release(ctx context.Context, route *v1alpha1.Route, vs *versionSet, out *render.Output, live bool) ([]v1alpha1.ResourceReference, time.Duration, error) {
	var held []v1alpha1.ResourceReference
	var wait, draining time.Duration
	if t := route.Status.LastAppliedTime; t != nil {
		wait = r.DrainDelay - time.Since(t.Time)
	}
	for _, k := range r.holding(route, vs) {
		ref, obj := vs.refs[k], vs.objects[k]
		if _, named := vs.objects[k]; !named {
			var err error
			if obj, _, err = r.read(ctx, ref); err != nil {
				return append(held, ref.resource()), 0, retry(ReasonVersionObjectsFailed, "reading %s: %w", ref, err)
			}
		}
		if obj == nil || !controllerutil.ContainsFinalizer(obj, vs.finalizer) {
			continue
		}
		needed := vs.guarded.Has(k) && obj.GetDeletionTimestamp() == nil
		if needed || !live || vs.trafficTo(k, out.Traffic) {
			held = append(held, ref.resource())
			continue
		}
		if wait > 0 {
			held, draining = append(held, ref.resource()), wait
			continue
		}
		if err := r.setFinalizer(ctx, obj, vs.finalizer, false); err != nil && !apierrors.IsNotFound(err) {
			return append(held, ref.resource()), 0, retry(ReasonVersionObjectsFailed, "removing finalizer %s from %s: %w", vs.finalizer, ref, err)
		}
	}
	return held, draining, nil
}

// releaseAll removes the Route's finalizer from every object that holds
// it, as the Route is being deleted.
func (r *RouteReconciler) releaseAll(ctx context.Context, route *v1alpha1.Route, vs *versionSet) ([]v1alpha1.ResourceReference, error) {
	keys := r.holding(route, vs)
	for i, k := range keys {
		ref := vs.refs[k]
		obj, _, err := r.read(ctx, ref)
		if err == nil && obj != nil && controllerutil.ContainsFinalizer(obj, vs.finalizer) {
			err = r.setFinalizer(ctx, obj, vs.finalizer, false)
		}
		if err != nil && !apierrors.IsNotFound(err) {
			var held []v1alpha1.ResourceReference
			for _, k := range keys[i:] {
				held = append(held, vs.refs[k].resource())
			}
			return held, retry(ReasonVersionObjectsFailed, "removing finalizer %s from %s: %w", vs.finalizer, ref, err)
		}
	}
	return nil, nil
}

// holding lists, sorted, the keys of the objects that may hold the
// finalizer for the Route: those of status.guarded and those its
// versions name; vs.refs is completed with the former.
func (r *RouteReconciler) holding(route *v1alpha1.Route, vs *versionSet) []string {
	keys := sets.New[string]()
	for k := range vs.refs {
		keys.Insert(k)
	}
	for _, g := range route.Status.Guarded {
		ref, err := refOf(g, route.Namespace)
		if err != nil {
			continue // not written by this controller
		}
		if _, ok := vs.refs[ref.key()]; !ok {
			vs.refs[ref.key()] = ref
		}
		keys.Insert(ref.key())
	}
	return sets.List(keys)
}

// setFinalizer adds or removes finalizer with a patch that fails on a
// concurrent change, so that other writers' finalizers are kept.
func (r *RouteReconciler) setFinalizer(ctx context.Context, obj *unstructured.Unstructured, finalizer string, add bool) error {
	orig := obj.DeepCopy()
	if add {
		controllerutil.AddFinalizer(obj, finalizer)
	} else {
		controllerutil.RemoveFinalizer(obj, finalizer)
	}
	return r.Patch(ctx, obj, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldManager))
}
