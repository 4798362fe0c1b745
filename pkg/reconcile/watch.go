package reconcile

import (
	"context"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// indexObjects indexes Routes by the keys (objectKey) of the objects they
// name: their versions' objects and the Flux Kustomization of a Git sink.
const indexObjects = "iter8.tools/objects"

func indexRouteObjects(o client.Object) []string {
	route, ok := o.(*v1alpha1.Route)
	if !ok {
		return nil
	}
	var keys []string
	for i := range route.Spec.Versions {
		cs, err := versionChecks(route, &route.Spec.Versions[i])
		if err != nil {
			continue // reported as Stalled by the reconcile
		}
		for _, c := range cs {
			keys = append(keys, c.ref.key())
		}
	}
	if ref, ok := kustomizationOf(route); ok {
		keys = append(keys, ref.key())
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// ensureWatch starts watching a kind the first time a Route names an
// object of it, or renders one whose status it awaits, so that a change of
// any such object reconciles the Routes that name it, or rendered it, at
// once. It fails with a no-match error when the API server
// does not serve the kind.
func (r *RouteReconciler) ensureWatch(gvk schema.GroupVersionKind) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.watched[gvk] {
		return nil
	}
	if _, err := r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
		return err
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	gk := gvk.GroupKind()
	src := source.Kind[client.Object](r.mgr.GetCache(), u, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		reqs := r.routesNaming(ctx, objectKey(gk, o.GetNamespace(), o.GetName()))
		if key, ok := routeOfLabel(o); ok {
			reqs = append(reqs, reconcile.Request{NamespacedName: key})
		}
		return reqs
	}))
	if err := r.controller.Watch(src); err != nil {
		return err
	}
	r.watched[gvk] = true
	return nil
}

// routesNaming lists the Routes that name the object with the given key.
func (r *RouteReconciler) routesNaming(ctx context.Context, key string) []reconcile.Request {
	var list v1alpha1.RouteList
	if err := r.List(ctx, &list, client.MatchingFields{indexObjects: key}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing the Routes that name an object", "object", key)
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, rt := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&rt)})
	}
	return reqs
}
