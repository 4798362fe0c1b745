package readiness

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
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
