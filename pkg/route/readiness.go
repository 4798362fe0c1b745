package route

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/iter8-tools/iter8/pkg/readiness"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// VersionChecks lists the objects a Route version names, with their checks:
// its backend (Service or InferenceService), then its readiness objects,
// which default to the Route's namespace. The Route reconciler and the
// A/B/n service both judge versions by it, so they agree.
func VersionChecks(route *v1alpha1.Route, v *v1alpha1.Version) ([]readiness.Check, error) {
	var out []readiness.Check
	switch {
	case v.Service != nil:
		out = append(out, readiness.Check{GVK: readiness.ServiceGVK, Namespace: route.Namespace, Name: v.Service.Name})
	case v.InferenceService != nil:
		out = append(out, readiness.Check{GVK: readiness.InferenceServiceGVK, Namespace: route.Namespace, Name: v.InferenceService.Name,
			Conditions: readiness.DefaultConditions(readiness.InferenceServiceGVK.GroupKind())})
	}
	for _, o := range v.Readiness {
		gv, err := schema.ParseGroupVersion(o.APIVersion)
		if err != nil {
			return nil, fmt.Errorf("version %s: readiness object %s %s: %w", v.Name, o.Kind, o.Name, err)
		}
		c := readiness.Check{GVK: gv.WithKind(o.Kind), Namespace: o.Namespace, Name: o.Name}
		if c.Namespace == "" {
			c.Namespace = route.Namespace
		}
		c.Conditions = readiness.DefaultConditions(c.GVK.GroupKind())
		if o.Condition != "" {
			c.Conditions = []string{o.Condition}
		}
		out = append(out, c)
	}
	return out, nil
}
