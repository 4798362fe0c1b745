package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/iter8-tools/iter8/pkg/render"
)

// reportsParents says whether a data plane reports on objects of this kind
// in status.parents: the Gateway API routes, where each parent's
// controller says whether it accepted which generation.
func reportsParents(o *unstructured.Unstructured) bool {
	gvk := o.GroupVersionKind()
	return gvk.Group == "gateway.networking.k8s.io" && (gvk.Kind == "HTTPRoute" || gvk.Kind == "GRPCRoute")
}

// awaitDataPlane checks, once the sink has the routing live, that every
// data plane that reports on a rendered object accepted its current
// generation: until then res is not live, so no finalizer is released
// while a data plane may still route by the previous generation, and the
// Route is not Ready before its routing is. The data planes awaited are
// those that reported on the object (status.parents), and the controllers
// of its parent Gateways that accepted them (a Gateway no controller
// serves reports on nothing, and is not waited for). A data plane that
// refused the object is an error.
func (r *RouteReconciler) awaitDataPlane(ctx context.Context, out *render.Output, res sinkResult, namespace string) (sinkResult, error) {
	if !res.live {
		return res, nil
	}
	for _, o := range out.Objects {
		if !reportsParents(o) {
			continue
		}
		// Changes of its status reconcile the Route (by its label).
		if err := r.ensureWatch(o.GroupVersionKind()); err != nil {
			return res, retry(ReasonReconciliationFailed, "watching %s: %w", o.GetKind(), err)
		}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(o.GroupVersionKind())
		// Uncached: the generation the sink just wrote, and the status
		// written for it.
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: o.GetName()}, live)
		if apierrors.IsNotFound(err) {
			res.live, res.waitReason, res.waitMessage = false, ReasonWaitingForDataPlane, fmt.Sprintf("%s %s is not in the cluster yet", o.GetKind(), o.GetName())
			return res, nil
		}
		if err != nil {
			return res, retry(ReasonReconciliationFailed, "reading %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		served, err := r.servedGateways(ctx, live)
		if err != nil {
			return res, err
		}
		waiting, err := parentsAccepted(live, served)
		if err != nil {
			return res, retry(ReasonRoutingRejected, "%w", err)
		}
		if waiting != "" {
			res.live, res.waitReason, res.waitMessage = false, ReasonWaitingForDataPlane, waiting
			return res, nil
		}
	}
	return res, nil
}

// gatewayGVK is the Gateway API's Gateway.
var gatewayGVK = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "Gateway"}

// parentGateway is a Gateway a route attaches to, by namespace/name.
type parentGateway struct {
	key string
	obj *unstructured.Unstructured
}

// parentGateways reads the Gateways among the route's parentRefs that
// exist (and that the controller may read), in the order of the refs.
func (r *RouteReconciler) parentGateways(ctx context.Context, o *unstructured.Unstructured) ([]parentGateway, error) {
	refs, _, _ := unstructured.NestedSlice(o.Object, "spec", "parentRefs")
	var out []parentGateway
	for _, ref := range refs {
		rm, _ := ref.(map[string]any)
		if g, k := rm["group"], rm["kind"]; (g != nil && g != gatewayGVK.Group) || (k != nil && k != gatewayGVK.Kind) {
			continue
		}
		key := parentKey(o.GetNamespace(), ref)
		gw, err := r.getUncached(ctx, gatewayGVK, key)
		if err != nil {
			return nil, err
		}
		if gw != nil {
			out = append(out, parentGateway{key: key, obj: gw})
		}
	}
	return out, nil
}

// servedGateways lists the route's parent Gateways (namespace/name) that
// a controller accepted (their Accepted condition is True): those whose
// controller will report on the route.
func (r *RouteReconciler) servedGateways(ctx context.Context, o *unstructured.Unstructured) ([]string, error) {
	gws, err := r.parentGateways(ctx, o)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, gw := range gws {
		conds, _, _ := unstructured.NestedSlice(gw.obj.Object, "status", "conditions")
		for _, c := range conds {
			if cm, _ := c.(map[string]any); cm["type"] == "Accepted" && cm["status"] == "True" {
				out = append(out, gw.key)
			}
		}
	}
	return out, nil
}

// parentKey is namespace/name of a parentRef of a route in namespace.
func parentKey(namespace string, ref any) string {
	rm, _ := ref.(map[string]any)
	ns, _ := rm["namespace"].(string)
	if ns == "" {
		ns = namespace
	}
	name, _ := rm["name"].(string)
	return ns + "/" + name
}

// parentsAccepted judges a Gateway API route's status.parents, given the
// parents (namespace/name) whose controllers must report: it returns what
// is awaited ("" when every parent accepted the route's generation), or an
// error naming the controllers that refused it and why.
func parentsAccepted(o *unstructured.Unstructured, served []string) (string, error) {
	gen := o.GetGeneration()
	parents, _, _ := unstructured.NestedSlice(o.Object, "status", "parents")
	var waiting, refused []string
	reported := map[string]bool{}
	for _, p := range parents {
		pm, _ := p.(map[string]any)
		controller, _, _ := unstructured.NestedString(pm, "controllerName")
		parent := parentKey(o.GetNamespace(), pm["parentRef"])
		reported[parent] = true
		conds, _, _ := unstructured.NestedSlice(pm, "conditions")
		var accepted map[string]any
		for _, c := range conds {
			if cm, _ := c.(map[string]any); cm["type"] == "Accepted" {
				accepted = cm
			}
		}
		observed, _, _ := unstructured.NestedInt64(accepted, "observedGeneration")
		switch {
		case accepted == nil || observed < gen:
			waiting = append(waiting, fmt.Sprintf("%s (parent %s) to accept generation %d of %s %s", controller, parent, gen, o.GetKind(), o.GetName()))
		case accepted["status"] != "True":
			refused = append(refused, fmt.Sprintf("%s (parent %s) did not accept %s %s: %v: %v", controller, parent, o.GetKind(), o.GetName(), accepted["reason"], accepted["message"]))
		}
	}
	for _, p := range served {
		if !reported[p] {
			waiting = append(waiting, fmt.Sprintf("the controller of Gateway %s to report on %s %s", p, o.GetKind(), o.GetName()))
		}
	}
	if len(refused) > 0 {
		return "", fmt.Errorf("%s", strings.Join(refused, "; "))
	}
	if len(waiting) > 0 {
		return "waiting for " + strings.Join(waiting, ", "), nil
	}
	return "", nil
}

// routeOfLabel is the Route that rendered o, by its labels.
func routeOfLabel(o client.Object) (client.ObjectKey, bool) {
	l := o.GetLabels()
	if l[render.LabelManagedBy] != "iter8" || l[render.LabelRoute] == "" {
		return client.ObjectKey{}, false
	}
	return client.ObjectKey{Namespace: o.GetNamespace(), Name: l[render.LabelRoute]}, true
}

// gatewayClassGVK is the Gateway API's GatewayClass.
var gatewayClassGVK = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "GatewayClass"}

// neededFeatures lists the Gateway API features (by their names in a
// GatewayClass's status.supportedFeatures) that a rendered HTTPRoute needs
// beyond the core: request mirroring, by percentage.
func neededFeatures(o *unstructured.Unstructured) []string {
	if o.GroupVersionKind().GroupKind() != (schema.GroupKind{Group: gatewayGVK.Group, Kind: "HTTPRoute"}) {
		return nil
	}
	var out []string
	rules, _, _ := unstructured.NestedSlice(o.Object, "spec", "rules")
	for _, rule := range rules {
		filters, _, _ := unstructured.NestedSlice(rule.(map[string]any), "filters")
		for _, f := range filters {
			fm, _ := f.(map[string]any)
			if fm["type"] != "RequestMirror" {
				continue
			}
			out = append(out, "HTTPRouteRequestMirror")
			if _, ok, _ := unstructured.NestedFieldNoCopy(fm, "requestMirror", "percent"); ok {
				out = append(out, "HTTPRouteRequestPercentageMirror")
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// checkFeatures refuses routing that a parent Gateway's class says it does
// not support (its status.supportedFeatures lacks a feature the routing
// needs): applied, it would break the requests it matches (Traefik, for
// one, answers 500 to every request of a rule with a filter it does not
// implement). A class that lists no features is not judged.
func (r *RouteReconciler) checkFeatures(ctx context.Context, out *render.Output) error {
	for _, o := range out.Objects {
		needed := neededFeatures(o)
		if len(needed) == 0 {
			continue
		}
		gws, err := r.parentGateways(ctx, o)
		if err != nil {
			return err
		}
		for _, gw := range gws {
			class, _, _ := unstructured.NestedString(gw.obj.Object, "spec", "gatewayClassName")
			gc, err := r.getUncached(ctx, gatewayClassGVK, "/"+class)
			if err != nil {
				return err
			}
			if gc == nil {
				continue
			}
			features, _, _ := unstructured.NestedSlice(gc.Object, "status", "supportedFeatures")
			if len(features) == 0 {
				continue
			}
			supported := map[string]bool{}
			for _, f := range features {
				if fm, ok := f.(map[string]any); ok {
					supported[fmt.Sprint(fm["name"])] = true
				}
			}
			var missing []string
			for _, n := range needed {
				if !supported[n] {
					missing = append(missing, n)
				}
			}
			if len(missing) > 0 {
				return retry(ReasonRoutingNotSupported, "%s %s needs %s, which GatewayClass %s of Gateway %s does not support (status.supportedFeatures); the routing is left as it was",
					o.GetKind(), o.GetName(), strings.Join(missing, " and "), class, gw.key)
			}
		}
	}
	return nil
}

// getUncached reads the object namespace/name (namespace empty for a
// cluster-scoped kind) from the API server; nil when it does not exist, or
// when the controller may not read it (installed --namespaced, it cannot
// read GatewayClasses or other namespaces' Gateways): what it would tell
// is then not judged.
func (r *RouteReconciler) getUncached(ctx context.Context, gvk schema.GroupVersionKind, key string) (*unstructured.Unstructured, error) {
	ns, name, _ := strings.Cut(key, "/")
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u)
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return nil, nil
	}
	if err != nil {
		return nil, retry(ReasonReconciliationFailed, "reading %s %s: %w", gvk.Kind, strings.TrimPrefix(key, "/"), err)
	}
	return u, nil
}
