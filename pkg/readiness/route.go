package readiness

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// Kinds a Route version names as its backend, and the kind whose readiness
// is judged by a condition rather than kstatus.
var (
	ServiceGVK          = schema.GroupVersionKind{Version: "v1", Kind: "Service"}
	InferenceServiceGVK = schema.GroupVersionKind{Group: "serving.kserve.io", Version: "v1beta1", Kind: "InferenceService"}
	DeploymentGK        = schema.GroupKind{Group: "apps", Kind: "Deployment"}
)

// DefaultConditions are the conditions that make an object of a kind ready
// when a Route names none; nil means kstatus. A Deployment is ready while
// it is Available for its current generation, also in the middle of a
// rolling update (kstatus would call that InProgress and take its traffic
// away); an InferenceService when Ready, which ModelMesh sets once the
// predictor's model is Loaded.
func DefaultConditions(gk schema.GroupKind) []string {
	switch gk {
	case DeploymentGK:
		return []string{"Available"}
	case InferenceServiceGVK.GroupKind():
		return []string{"Ready"}
	}
	return nil
}

// Check is an object whose readiness decides a Route version's, and the
// conditions that judge it (nil: kstatus).
type Check struct {
	// GVK is the object's kind.
	GVK schema.GroupVersionKind
	// Namespace and Name name the object.
	Namespace, Name string
	// Conditions must all be True; nil means kstatus decides.
	Conditions []string
}

// VersionChecks lists the objects a Route version names, with their checks:
// its backend (Service or InferenceService), then its readiness objects,
// which default to the Route's namespace. The Route reconciler and the
// A/B/n service both judge versions by it, so they agree.
func VersionChecks(route *v1alpha1.Route, v *v1alpha1.Version) ([]Check, error) {
	var out []Check
	switch {
	case v.Service != nil:
		out = append(out, Check{GVK: ServiceGVK, Namespace: route.Namespace, Name: v.Service.Name})
	case v.InferenceService != nil:
		out = append(out, Check{GVK: InferenceServiceGVK, Namespace: route.Namespace, Name: v.InferenceService.Name,
			Conditions: DefaultConditions(InferenceServiceGVK.GroupKind())})
	}
	for _, o := range v.Readiness {
		gv, err := schema.ParseGroupVersion(o.APIVersion)
		if err != nil {
			return nil, fmt.Errorf("version %s: readiness object %s %s: %w", v.Name, o.Kind, o.Name, err)
		}
		c := Check{GVK: gv.WithKind(o.Kind), Namespace: o.Namespace, Name: o.Name}
		if c.Namespace == "" {
			c.Namespace = route.Namespace
		}
		c.Conditions = DefaultConditions(c.GVK.GroupKind())
		if o.Condition != "" {
			c.Conditions = []string{o.Condition}
		}
		out = append(out, c)
	}
	return out, nil
}
